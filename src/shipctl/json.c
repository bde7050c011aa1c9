/*
 * json.c - the envelope every --json output shares (json.h).
 */
#include "json.h"
#include "queue.h"

#include <stdio.h>

void
json_begin(struct sbuf *b, const char *kind, const struct config *cf, time_t now)
{
	sbuf_init(b);
	sbuf_printf(b, "{\"schema\":%d,\"kind\":", JSON_SCHEMA);
	json_str(b, kind);
	sbuf_puts(b, ",\"node\":");
	json_str(b, cf->node);
	sbuf_printf(b, ",\"now\":%lld", (long long)now);
}

int
json_end(struct sbuf *b)
{
	int rc;

	sbuf_puts(b, "}\n");
	rc = fwrite(b->s, 1, b->len, stdout) == b->len && fflush(stdout) == 0 ? 0 : -1;
	sbuf_free(b);
	return rc;
}

void
json_strv(struct sbuf *b, const char *key, const struct strv *l)
{
	sbuf_printf(b, ",\"%s\":[", key);
	for (int i = 0; l && i < l->n; i++) {
		if (i)
			sbuf_puts(b, ",");
		json_str(b, l->v[i]);
	}
	sbuf_puts(b, "]");
}

void
json_listen(struct sbuf *b, const struct config *cf)
{
	sbuf_puts(b, "\"listen\":");
	if (cf->listen_addr) {
		sbuf_puts(b, "{\"address\":");
		json_str(b, cf->listen_addr);
		sbuf_printf(b, ",\"port\":%d}", cf->listen_port);
	} else
		sbuf_puts(b, "null");
	if (cf->min_port)
		sbuf_printf(b, ",\"ports\":{\"min\":%d,\"max\":%d}", cf->min_port, cf->max_port);
	else
		sbuf_puts(b, ",\"ports\":null");
}
