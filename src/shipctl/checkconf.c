/*
 * checkconf.c - "shipctl checkconf": parse shipping.conf, print the
 * effective configuration and every problem a parse cannot see (see
 * config_check()). Exit 0 when there is none, 2 (EX_CONFIG) on a parse
 * error (on stderr, "shipctl: file:line: message") or on any problem.
 *
 * --json: json.h's envelope with "path", "ok", "problems" (each line
 * config_check words, and whether it is a warning) and "config" (the
 * effective settings, classes, peers and routes).
 *
 * Reads the configuration only; never touches the spool or the network.
 */
#include "shipctl.h"
#include "json.h"
#include "queue.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* The configuration as JSON (the problems as config_check words them). */
static int
print_json(const struct config *cf)
{
	char *text = NULL, *line, *save = NULL;
	size_t len = 0;
	FILE *mem = open_memstream(&text, &len);
	struct sbuf b;
	int problems, after_blank = 0, first = 1;

	if (mem == NULL) {
		fprintf(stderr, "shipctl: checkconf: out of memory\n");
		return EX_TEMPFAIL;
	}
	problems = config_check(cf, mem);
	fclose(mem);
	json_begin(&b, "checkconf", cf, time(NULL));
	sbuf_puts(&b, ",\"path\":");
	json_str(&b, cf->path);
	sbuf_printf(&b, ",\"ok\":%s,\"problem_count\":%d,\"problems\":[", problems ? "false" : "true",
		    problems);
	/* config_check prints the configuration, a blank line, then one line a problem */
	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (!after_blank) {
			after_blank = line > text && line[-1] == '\n' && line - 2 >= text &&
				      line[-2] == 0;
			if (!after_blank)
				continue;
		}
		sbuf_puts(&b, first ? "{\"text\":" : ",{\"text\":");
		json_str(&b, line);
		sbuf_printf(&b, ",\"warning\":%s}", strstr(line, ": warning: ") ? "true" : "false");
		first = 0;
	}
	free(text);
	sbuf_puts(&b, "],\"config\":{");
	json_listen(&b, cf);
	sbuf_puts(&b, ",\"spool\":");
	json_str(&b, cf->spool);
	sbuf_puts(&b, ",\"key_file\":");
	json_str(&b, cf->key_file);
	sbuf_puts(&b, ",\"keys_dir\":");
	json_str(&b, cf->keys_dir);
	sbuf_puts(&b, ",\"administrator\":");
	json_str(&b, cf->administrator);
	sbuf_puts(&b, ",\"notification_program\":");
	json_str(&b, cf->notify_program);
	sbuf_puts(&b, ",\"log\":");
	json_str(&b, cf->log_dest);
	sbuf_puts(&b, ",\"user\":");
	json_str(&b, cf->spool_user);
	sbuf_printf(&b, ",\"max_data_size\":%llu,\"expiration_days\":%d,\"max_children\":%d,"
		    "\"max_receivers\":%d,\"max_handshakes\":%d,\"max_handshakes_per_source\":%d,"
		    "\"handshake_timeout_seconds\":%d,\"retry_min_seconds\":%d,"
		    "\"retry_max_seconds\":%d,"
		    "\"io_timeout_seconds\":%d,\"bay_size_limit\":%llu,\"min_free_disk\":%llu",
		    (unsigned long long)cf->max_data_size, cf->expiration_days, cf->max_children,
		    cf->max_receivers, cf->max_handshakes, cf->max_handshakes_per_source,
		    cf->handshake_timeout, cf->retry_min, cf->retry_max, cf->io_timeout,
		    (unsigned long long)cf->bay_size_limit, (unsigned long long)cf->min_free_disk);
	sbuf_puts(&b, ",\"classes\":[");
	for (int i = 0; i < cf->nclasses; i++) {
		const struct sclass *k = &cf->classes[i];

		sbuf_puts(&b, i ? ",{\"name\":" : "{\"name\":");
		json_str(&b, k->name);
		json_strv(&b, "bays", &k->bays);
		sbuf_puts(&b, ",\"return_bay\":");
		json_str(&b, k->return_bay);
		sbuf_printf(&b, ",\"expiration_days\":%d,\"receipt_handler\":", k->expiration_days);
		json_str(&b, k->receipt_handler);
		sbuf_puts(&b, "}");
	}
	sbuf_puts(&b, "],\"peers\":[");
	for (int i = 0; i < cf->npeers; i++) {
		const struct peer *p = &cf->peers[i];

		sbuf_puts(&b, i ? ",{\"name\":" : "{\"name\":");
		json_str(&b, p->name);
		sbuf_puts(&b, ",\"host\":");
		json_str(&b, p->host);
		if (p->host)
			sbuf_printf(&b, ",\"port\":%d", p->port);
		else
			sbuf_puts(&b, ",\"port\":null");
		sbuf_printf(&b, ",\"has_key\":%s}", p->has_key ? "true" : "false");
	}
	sbuf_puts(&b, "],\"routes\":[");
	for (int i = 0; i < cf->nroutes; i++) {
		const struct route *r = &cf->routes[i];

		sbuf_puts(&b, i ? ",{\"next_hop\":" : "{\"next_hop\":");
		json_str(&b, r->next_hop);
		json_strv(&b, "destinations", &r->dests);
		sbuf_puts(&b, ",\"file\":");
		json_str(&b, r->file);
		sbuf_printf(&b, ",\"line\":%d}", r->line);
	}
	sbuf_puts(&b, "]}");
	if (json_end(&b) < 0)
		return EX_TEMPFAIL;
	return problems ? EX_CONFIG : EX_OK;
}

VERB(checkconf)
{
	struct config *cf;
	int problems, json = argc == 2 && strcmp(argv[1], "--json") == 0;

	if (argc != 1 && !json) {
		fprintf(stderr, "usage: shipctl [-c CONF] checkconf [--json]\n");
		return EX_USAGE;
	}
	c->keep_root = 1;	/* reads only; it checks the key file as its owner would */
	cf = ctl_config(c);
	if (json)
		return print_json(cf);
	problems = config_check(cf, stdout);
	fflush(stdout);
	if (problems == 0) {
		printf("%s: no problems found\n", cf->path);
		return EX_OK;
	}
	fprintf(stderr, "shipctl: %s: %d problem%s found\n", cf->path, problems,
		problems == 1 ? "" : "s");
	return EX_CONFIG;
}
