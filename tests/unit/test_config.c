/*
 * test_config.c - shipping.conf: defaults, every directive, the seed
 * document's ROUTE lines, sizes, the port variables (file and
 * environment), both class syntaxes and the 64-class limit, relative
 * paths, every bad fixture's exact "file:line:" and message, and what
 * checkconf finds (loops, unknown next hops, ...) in its captured output.
 *
 * Runs from the repository root (tests/run does; else $TOP is used).
 */
#include "t.h"
#include "conf/config.h"
#include "conf/config_int.h"
#include "crypto/keys.h"
#include "util/safefile.h"

#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define FIX		"tests/unit/conf/"
#define KEY_A		"shipd1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=="
#define KEY_B		"shipd1:BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBA=="

/* The seed document's ROUTE lines (000_d9b5c2b00e9a6731.txt), verbatim. */
static const char *seed_routes[] = {
	"ROUTE SSA SiteB_host1 SiteB_host2 SiteB_host3 SiteC_host1 SiteC_host2 SiteC_host3",
	"ROUTE SSB SiteB_host1 SiteB_host2 SiteB_host3 ROUTE SSC SiteC_host1 SiteC_host2 SiteC_host3",
	"ROUTE SSA SiteA_host1 SiteA_host2 SiteA_host3 ROUTE SSC SiteC_host1 SiteC_host2 SiteC_host3",
	"ROUTE SSA SiteA_host1 SiteA_host2 SiteA_host3 ROUTE SSB SiteB_host1 SiteB_host2 SiteB_host3",
};

static char top[PATH_MAX];

static int
starts(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

/*
 * Inline configurations have no key file beside them; checkconf counts a
 * missing KEY-FILE as a problem (tests/scenario/config_errors.sh), so the
 * routing checks here run without one.
 */
static struct config *
load_text(const char *text)
{
	struct config *cf = config_load_buf(FIX "inline.conf", text, strlen(text));

	if (cf) {
		free(cf->key_file);
		cf->key_file = NULL;
	}
	return cf;
}

/* Run config_check and keep its output. */
static int
check_output(const struct config *cf, char **out)
{
	size_t len;
	FILE *f = open_memstream(out, &len);
	int n = config_check(cf, f);

	fclose(f);
	return n;
}

static char *
path_under(const char *dir, const char *rel)
{
	char buf[PATH_MAX];

	snprintf(buf, sizeof(buf), "%s/%s", dir, rel);
	return strdup(buf);
}

static void
defaults(void)
{
	struct config *cf = config_load(FIX "good-empty.conf");
	char host[256], *key;

	CHECK(cf != NULL);
	if (cf == NULL) {
		printf("#   %s\n", err_get());
		return;
	}
	gethostname(host, sizeof(host));
	CHECK_STR(cf->node, host);
	CHECK(cf->listen_addr == NULL);
	CHECK_STR(cf->spool, "/var/spool/shipd");
	key = path_under(top, FIX "shipd.key");
	CHECK_STR(cf->key_file, key);
	free(key);
	CHECK_STR(cf->administrator, "root");
	CHECK(cf->notify_program == NULL);
	CHECK_INT(cf->max_data_size, 2097151ULL * 1024);
	CHECK_INT(cf->expiration_days, 14);
	CHECK_INT(cf->min_port, 0);
	CHECK_INT(cf->max_port, 0);
	CHECK_INT(cf->nclasses, 1);
	CHECK_STR(cf->classes[0].name, "-default");
	CHECK_INT(cf->classes[0].bays.n, 1);
	CHECK_STR(cf->classes[0].bays.v[0], "/var/spool/shipd/ms_ship");
	CHECK_STR(cf->classes[0].return_bay, "/var/spool/shipd/ms_rtn");
	CHECK_INT(cf->classes[0].expiration_days, 14);
	CHECK(cf->classes[0].receipt_handler == NULL);
	CHECK_INT(cf->npeers, 0);
	CHECK_INT(cf->nroutes, 0);
	CHECK_INT(cf->nallow, 0);
	CHECK_INT(cf->bay_size_limit, 0);
	CHECK_INT(cf->min_free_disk, 64 * 1024 * 1024);
	CHECK_INT(cf->max_children, 10);
	CHECK_INT(cf->max_receivers, 10);
	CHECK_INT(cf->retry_min, 60);
	CHECK_INT(cf->retry_max, 3600);
	CHECK_INT(cf->io_timeout, 60);
	CHECK_STR(cf->log_dest, "syslog");
	CHECK(cf->spool_user == NULL);
	config_free(cf);
}

static void
every_directive(void)
{
	struct config *cf = config_load(FIX "good-full.conf");
	const struct peer *p;
	struct pubkey k;

	CHECK(cf != NULL);
	if (cf == NULL) {
		printf("#   %s\n", err_get());
		return;
	}
	CHECK_STR(cf->node, "SiteA_host1");
	CHECK_STR(cf->listen_addr, "::1");
	CHECK_INT(cf->listen_port, 4600);
	CHECK_STR(cf->spool, "/srv/shipd");
	CHECK_STR(cf->key_file, "/etc/shipd/node.key");
	CHECK_STR(cf->administrator, "ccadmin@example.com");
	CHECK_STR(cf->notify_program, "/usr/local/bin/notify");
	CHECK_INT(cf->max_data_size, 512ULL << 20);
	CHECK_INT(cf->expiration_days, 21);
	CHECK_INT(cf->min_port, 49152);
	CHECK_INT(cf->max_port, 49181);
	CHECK_INT(cf->npeers, 3);
	p = config_peer(cf, "SSA");
	CHECK(p && p->host && strcmp(p->host, "192.0.2.1") == 0 && p->port == 4590 && p->has_key);
	CHECK(p && p->line == 12 && p->file == cf->path);
	CHECK(pubkey_parse(KEY_A, &k) == 0);
	CHECK(p && memcmp(&p->key, &k, sizeof(k)) == 0);
	CHECK(config_peer_by_key(cf, k.sign) == p);
	p = config_peer(cf, "SiteB_host1");
	CHECK(p && p->host == NULL && p->line == 14);
	CHECK_INT(cf->nroutes, 2);
	CHECK_STR(config_next_hop(cf, "SiteB_host1"), "SSA");
	CHECK_STR(config_next_hop(cf, "SiteC_host2"), "gw");
	CHECK_STR(config_next_hop(cf, "gw"), "gw");
	CHECK(config_next_hop(cf, "nowhere") == NULL);
	/* ALLOW entries in order, then the PEER's literal address (gw is a name). */
	CHECK_INT(cf->nallow, 4);
	CHECK(cf->nallow == 4 && cf->allow[0].prefix == 8 && cf->allow[1].prefix == 32 &&
	      cf->allow[2].prefix == 32 && cf->allow[3].prefix == 32);
	CHECK(cf->nallow == 4 && cf->allow[3].addr[0] == 192 && cf->allow[3].addr[3] == 1);
	CHECK_INT(cf->bay_size_limit, 10ULL << 30);
	CHECK_INT(cf->min_free_disk, 100000ULL * 1024);
	CHECK_INT(cf->max_children, 4);
	CHECK_INT(cf->max_receivers, 6);
	CHECK_INT(cf->retry_min, 30);
	CHECK_INT(cf->retry_max, 7200);
	CHECK_INT(cf->io_timeout, 300);
	CHECK_STR(cf->log_dest, "stderr,syslog,file:/var/log/shipd.log");
	CHECK_STR(cf->spool_user, "shipd");
	CHECK_STR(cf->classes[0].bays.v[0], "/srv/bays/default");
	CHECK_STR(cf->classes[0].return_bay, "/srv/shipd/ms_rtn");
	CHECK_INT(cf->classes[0].expiration_days, 21);
	config_free(cf);
}

static void
node_defaults_to_hostname(void)
{
	struct config *cf = load_text("LISTEN 127.0.0.1\n");
	char host[256];

	gethostname(host, sizeof(host));
	CHECK(cf != NULL);
	if (cf)
		CHECK_STR(cf->node, host);
	CHECK(cf && cf->listen_port == 4590);
	config_free(cf);
}

/* Every ROUTE line of the seed document parses as the routes it shows. */
static void
seed_route_lines(void)
{
	static const struct {
		int nroutes;
		const char *hop[2];
		const char *dests[2];	/* space-separated */
	} want[] = {
		{1, {"SSA"}, {"SiteB_host1 SiteB_host2 SiteB_host3 SiteC_host1 SiteC_host2 SiteC_host3"}},
		{2, {"SSB", "SSC"}, {"SiteB_host1 SiteB_host2 SiteB_host3", "SiteC_host1 SiteC_host2 SiteC_host3"}},
		{2, {"SSA", "SSC"}, {"SiteA_host1 SiteA_host2 SiteA_host3", "SiteC_host1 SiteC_host2 SiteC_host3"}},
		{2, {"SSA", "SSB"}, {"SiteA_host1 SiteA_host2 SiteA_host3", "SiteB_host1 SiteB_host2 SiteB_host3"}},
	};

	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		char text[512], joined[512];
		struct config *cf;

		snprintf(text, sizeof(text), "NODE here\n%s\n", seed_routes[i]);
		cf = load_text(text);
		CHECK(cf != NULL);
		if (cf == NULL) {
			printf("#   %s\n", err_get());
			continue;
		}
		CHECK_INT(cf->nroutes, want[i].nroutes);
		for (int r = 0; r < cf->nroutes && r < 2; r++) {
			CHECK_STR(cf->routes[r].next_hop, want[i].hop[r]);
			CHECK_INT(cf->routes[r].line, 2);
			joined[0] = 0;
			for (int d = 0; d < cf->routes[r].dests.n; d++)
				snprintf(joined + strlen(joined), sizeof(joined) - strlen(joined), "%s%s",
					 d ? " " : "", cf->routes[r].dests.v[d]);
			CHECK_STR(joined, want[i].dests[r]);
			for (int d = 0; d < cf->routes[r].dests.n; d++)
				CHECK_STR(config_next_hop(cf, cf->routes[r].dests.v[d]), want[i].hop[r]);
		}
		config_free(cf);
	}
}

static void
sizes(void)
{
	static const struct {
		const char *s;
		int bare_kb;
		uint64_t want;
	} good[] = {
		{"0", 1, 0}, {"1", 1, 1024}, {"2097151", 1, 2097151ULL * 1024},
		{"100", 0, 100}, {"1k", 1, 1024}, {"1K", 0, 1024}, {"2m", 1, 2 << 20},
		{"3g", 1, 3ULL << 30}, {"3G", 0, 3ULL << 30}, {"0m", 1, 0},
		{"16777215g", 1, 16777215ULL << 30},
	};
	static const char *bad[] = {
		"", "k", "1x", "1kk", "-1", "+1", " 1", "1 ", "1.5m", "0x10",
		"18446744073709551615k", "99999999999999999999", "17179869184g",
	};
	uint64_t v;
	struct config *cf;

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		v = 12345;
		CHECK(config_parse_size(good[i].s, good[i].bare_kb, &v) == 0);
		if (v != good[i].want)
			printf("#   size \"%s\"\n", good[i].s);
		CHECK_INT(v, good[i].want);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		v = 12345;
		if (config_parse_size(bad[i], 1, &v) == 0)
			printf("#   size \"%s\" accepted\n", bad[i]);
		CHECK(config_parse_size(bad[i], 1, &v) < 0 && v == 12345);
	}
	CHECK(config_parse_size("1x", 1, &v) < 0 && strstr(err_get(), "\"1x\"") != NULL);
	/* Through the file: bare = KB for every size; MAX-DATA-SIZE 0 = the default. */
	cf = load_text("NODE n\nMAX-DATA-SIZE 0\nBAY-SIZE-LIMIT 3\nMIN-FREE-DISK 0\n");
	CHECK(cf && cf->max_data_size == DEFAULT_MAX_DATA_KB * 1024);
	CHECK(cf && cf->bay_size_limit == 3 * 1024 && cf->min_free_disk == 0);
	config_free(cf);
	cf = load_text("NODE n\nMAX-DATA-SIZE 100\n");
	CHECK(cf && cf->max_data_size == 100 * 1024);
	config_free(cf);
	cf = load_text("NODE n\nMAX-DATA-SIZE 1g\n");
	CHECK(cf && cf->max_data_size == 1ULL << 30);
	config_free(cf);
}

static void
durations(void)
{
	struct config *cf = load_text("NODE n\nRETRY-MIN 90\nRETRY-MAX 1d\nIO-TIMEOUT 2m\n");

	CHECK(cf && cf->retry_min == 90 && cf->retry_max == 86400 && cf->io_timeout == 120);
	config_free(cf);
	cf = load_text("NODE n\nRETRY-MIN 0\n");
	CHECK(cf == NULL && strstr(err_get(), "inline.conf:2: RETRY-MIN: bad duration \"0\""));
	cf = load_text("NODE n\nIO-TIMEOUT 2d\n");
	CHECK(cf == NULL && strstr(err_get(), "inline.conf:2: IO-TIMEOUT"));
	cf = load_text("NODE n\nRETRY-MAX 99999999999999999999999s\n");
	CHECK(cf == NULL && strstr(err_get(), "bad duration"));
}

static void
port_forms(void)
{
	struct config *cf;

	cf = load_text("NODE n\nCLEARCASE_MIN_PORT=49152\nCLEARCASE_MAX_PORT= 49200\n");
	CHECK(cf && cf->min_port == 49152 && cf->max_port == 49200);
	config_free(cf);
	cf = load_text("NODE n\nCLEARCASE_MIN_PORT 1024\nCLEARCASE_MAX_PORT 65535\n");
	CHECK(cf && cf->min_port == 1024 && cf->max_port == 65535);
	config_free(cf);
	cf = load_text("NODE n\nCLEARCASE_MIN_PORT 65535\nCLEARCASE_MAX_PORT 65535\n");
	CHECK(cf == NULL && strstr(err_get(), "inline.conf:2: CLEARCASE_MIN_PORT: bad number \"65535\""));
	cf = load_text("NODE n\nCLEARCASE_MAX_PORT 1025\nCLEARCASE_MIN_PORT 1024\n");
	CHECK(cf && cf->min_port == 1024 && cf->max_port == 1025);
	config_free(cf);
}

/* The environment variables win over the file, with the same checks. */
static void
env_overrides(void)
{
	const char *file = "NODE n\nCLEARCASE_MIN_PORT 49152\nCLEARCASE_MAX_PORT 65535\n";
	struct config *cf;

	setenv("CLEARCASE_MIN_PORT", "50000", 1);
	setenv("CLEARCASE_MAX_PORT", "50029", 1);
	cf = load_text(file);
	CHECK(cf && cf->min_port == 50000 && cf->max_port == 50029);
	config_free(cf);
	cf = load_text("NODE n\n");			/* the environment alone */
	CHECK(cf && cf->min_port == 50000 && cf->max_port == 50029);
	config_free(cf);

	unsetenv("CLEARCASE_MAX_PORT");			/* one from each */
	cf = load_text(file);
	CHECK(cf && cf->min_port == 50000 && cf->max_port == 65535);
	config_free(cf);
	cf = load_text("NODE n\n");			/* only one at all */
	CHECK(cf == NULL);
	CHECK(strstr(err_get(), "CLEARCASE_MIN_PORT (environment)") && strstr(err_get(), "both or neither"));

	setenv("CLEARCASE_MAX_PORT", "40000", 1);	/* MAX below the file's MIN */
	unsetenv("CLEARCASE_MIN_PORT");
	cf = load_text(file);
	CHECK(cf == NULL);
	CHECK(strstr(err_get(), "CLEARCASE_MAX_PORT (environment): 40000 is not greater") != NULL);

	setenv("CLEARCASE_MIN_PORT", "abc", 1);
	cf = load_text(file);
	CHECK(cf == NULL);
	CHECK_STR(err_get(), "environment variable CLEARCASE_MIN_PORT=\"abc\": bad port (want 1024..65534)");
	setenv("CLEARCASE_MIN_PORT", "80", 1);
	cf = load_text(file);
	CHECK(cf == NULL && strstr(err_get(), "environment variable CLEARCASE_MIN_PORT=\"80\""));
	setenv("CLEARCASE_MIN_PORT", "50000", 1);
	setenv("CLEARCASE_MAX_PORT", "65536", 1);
	cf = load_text(file);
	CHECK(cf == NULL && strstr(err_get(), "environment variable CLEARCASE_MAX_PORT=\"65536\""));

	setenv("CLEARCASE_MIN_PORT", "", 1);		/* empty = unset */
	setenv("CLEARCASE_MAX_PORT", "", 1);
	cf = load_text(file);
	CHECK(cf && cf->min_port == 49152 && cf->max_port == 65535);
	config_free(cf);
	unsetenv("CLEARCASE_MIN_PORT");
	unsetenv("CLEARCASE_MAX_PORT");
}

static void
class_forms(void)
{
	struct config *cf = config_load(FIX "good-classes.conf");
	const struct sclass *c;

	CHECK(cf != NULL);
	if (cf == NULL) {
		printf("#   %s\n", err_get());
		return;
	}
	CHECK_INT(cf->nclasses, 4);
	CHECK_STR(cf->classes[0].name, "-default");
	CHECK_STR(cf->classes[0].bays.v[0], "/b/default");
	CHECK_STR(cf->classes[0].return_bay, "/var/spool/shipd/ms_rtn");
	CHECK_INT(cf->classes[0].expiration_days, 20);
	c = config_class(cf, "vobs");
	CHECK(c && c->bays.n == 2);
	if (c) {
		CHECK_STR(c->bays.v[0], "/b/vobs1");
		CHECK_STR(c->bays.v[1], "/b/vobs2");
		CHECK_STR(c->return_bay, "/r/vobs");
		CHECK_INT(c->expiration_days, 7);
		CHECK_STR(c->receipt_handler, "/h/sync");
	}
	c = config_class(cf, "docs");
	CHECK(c && c->bays.n == 1);
	if (c) {
		CHECK_STR(c->return_bay, "/r/docs");
		CHECK_INT(c->expiration_days, 3);
		CHECK_STR(c->receipt_handler, "/h/docs");
	}
	c = config_class(cf, "plain");
	CHECK(c != NULL);
	if (c) {
		CHECK_STR(c->return_bay, "/b/plain");	/* its first bay */
		CHECK_INT(c->expiration_days, 20);	/* the global EXPIRATION */
		CHECK(c->receipt_handler == NULL);
	}
	CHECK(config_class(cf, "missing") == NULL);
	config_free(cf);
}

/* 64 classes including -default are fine; the 65th is an error on its line. */
static void
class_limit(void)
{
	struct sbuf b;
	struct config *cf;

	sbuf_init(&b);
	sbuf_puts(&b, "NODE n\n");
	for (int i = 1; i < MAX_CLASSES; i++)
		sbuf_printf(&b, "CLASS c%d /bays/c%d\n", i, i);
	cf = load_text(b.s);
	CHECK(cf && cf->nclasses == MAX_CLASSES);
	CHECK(cf && strcmp(cf->classes[63].name, "c63") == 0);
	config_free(cf);
	sbuf_puts(&b, "RETURN-BAY one-too-many /r\n");
	cf = load_text(b.s);
	CHECK(cf == NULL);
	CHECK(starts(err_get(), FIX "inline.conf:65: RETURN-BAY: class \"one-too-many\""));
	CHECK(strstr(err_get(), "at most 64") != NULL);
	sbuf_free(&b);
	/* Bays per class are bounded too (a 1 MB CLASS line must not take minutes). */
	sbuf_init(&b);
	sbuf_puts(&b, "NODE n\nCLASS big");
	for (int i = 0; i < 64; i++)
		sbuf_printf(&b, " /bays/%d", i);
	cf = load_text(b.s);
	CHECK(cf && config_class(cf, "big") && config_class(cf, "big")->bays.n == 64);
	config_free(cf);
	sbuf_puts(&b, " /bays/64\n");
	cf = load_text(b.s);
	CHECK(cf == NULL && starts(err_get(), FIX "inline.conf:2: CLASS: class big has more than 64 storage bays"));
	sbuf_free(&b);
}

/* Relative paths resolve against the file's directory, wherever we run. */
static void
relative_paths(void)
{
	char fixdir[PATH_MAX + 32], tests[PATH_MAX + 32], abs[PATH_MAX + 64], cwd[PATH_MAX];
	struct config *cf, *cf2;
	const struct sclass *c;

	snprintf(fixdir, sizeof(fixdir), "%s/tests/unit/conf", top);
	snprintf(tests, sizeof(tests), "%s/tests", top);
	snprintf(abs, sizeof(abs), "%s/good-relative.conf", fixdir);
	cf = config_load(FIX "good-relative.conf");
	CHECK(cf != NULL);
	if (cf == NULL) {
		printf("#   %s\n", err_get());
		return;
	}
	char *want;
#define WANT(got, base, rel) do { want = path_under(base, rel); CHECK_STR(got, want); free(want); } while (0)
	WANT(cf->spool, top, "tests/unit/spool-rel");
	WANT(cf->key_file, fixdir, "keys/node.key");
	WANT(cf->notify_program, top, "tests/notify");
	c = config_class(cf, "c");
	CHECK(c && c->bays.n == 2);
	if (c && c->bays.n == 2) {
		WANT(c->bays.v[0], fixdir, "bays/c1");
		WANT(c->bays.v[1], fixdir, "bays/c2");	/* trailing slash gone */
		WANT(c->return_bay, tests, "rtn");
		WANT(c->receipt_handler, fixdir, "handler.sh");
	}
	CHECK_STR(cf->classes[0].return_bay, fixdir);
	WANT(cf->classes[0].bays.v[0], top, "tests/unit/spool-rel/ms_ship");
	want = xasprintf("file:%s/log/shipd.log", fixdir);
	CHECK_STR(cf->log_dest, want);
	free(want);
#undef WANT
	/* From another directory, by absolute path: the same answers. */
	CHECK(getcwd(cwd, sizeof(cwd)) != NULL);
	CHECK(chdir("/") == 0);
	cf2 = config_load(abs);
	CHECK(chdir(cwd) == 0);
	CHECK(cf2 != NULL);
	if (cf2) {
		CHECK_STR(cf2->spool, cf->spool);
		CHECK_STR(cf2->key_file, cf->key_file);
		CHECK_STR(config_class(cf2, "c")->bays.v[0], c->bays.v[0]);
	}
	config_free(cf2);
	config_free(cf);
}

/* Each bad fixture: NULL, the exact "file:line: " and a word of the message. */
static void
bad_fixtures(void)
{
	static const struct {
		const char *file;
		int line;
		const char *words;
	} bad[] = {
		{"bad-unknown", 4, "unknown directive \"FROBNICATE\""},
		{"bad-case", 3, "case-sensitive: ROUTE"},
		{"bad-number", 5, "MAX-CHILDREN: bad number \"ten\" (want 1..64)"},
		{"bad-children-range", 3, "MAX-CHILDREN: bad number \"65\""},
		{"bad-port-low", 3, "CLEARCASE_MIN_PORT: bad number \"80\" (want 1024..65534)"},
		{"bad-port-high", 4, "CLEARCASE_MAX_PORT: bad number \"70000\" (want 1025..65535)"},
		{"bad-port-order", 5, "CLEARCASE_MAX_PORT: 50000 is not greater than CLEARCASE_MIN_PORT 50000"},
		{"bad-port-one", 4, "CLEARCASE_MIN_PORT: set without CLEARCASE_MAX_PORT"},
		{"bad-dup-peer", 5, "KEY: node a already defined at line 3 (PEER)"},
		{"bad-dup-class", 4, "STORAGE-CLASS: class x already defined at line 3"},
		{"bad-dup-default", 4, "CLASS: class -default already defined at line 3"},
		{"bad-key", 3, "PEER a: malformed public key"},
		{"bad-key-prefix", 3, "KEY a: malformed public key"},
		{"bad-route-nodest", 3, "ROUTE: want a next hop and at least one destination"},
		{"bad-route-second", 3, "ROUTE: want a next hop and at least one destination"},
		{"bad-route-name", 3, "ROUTE: bad node name \"bad/name\""},
		{"bad-size", 3, "MAX-DATA-SIZE: bad size \"12x\""},
		{"bad-size-overflow", 3, "BAY-SIZE-LIMIT: "},
		{"bad-duration", 3, "RETRY-MIN: bad duration \"5w\""},
		{"bad-retry-order", 4, "RETRY-MIN: RETRY-MAX 1800s is below RETRY-MIN 7200s"},
		{"bad-node-twice", 4, "NODE: already set at line 2"},
		{"bad-node-name", 2, "NODE: bad node name \"-x\""},
		{"bad-listen-host", 3, "LISTEN: \"localhost\" is not an IP address"},
		{"bad-listen-port", 3, "LISTEN: bad port \"70000\""},
		{"bad-peer-arity", 3, "PEER a: no key: give it on the line, set KEYS-DIR or trust an AUTHORITY"},
		{"bad-peer-host", 3, "PEER a: bad host \"bad_host!\""},
		{"bad-class-option", 3, "CLASS: unknown option \"-colour\""},
		{"bad-class-nobay", 4, "class orphan has no storage bay"},
		{"bad-class-noarg", 3, "CLASS: want a class name and at least one bay"},
		{"bad-class-name", 3, "CLASS: bad class name \"a/b\""},
		{"bad-return-twice", 4, "RETURN-BAY: return bay of class x already set at line 3"},
		{"bad-allow", 3, "ALLOW: prefix length over 32"},
		{"bad-log", 3, "LOG: bad destination \"email\""},
		{"bad-expiration", 3, "EXPIRATION: bad number \"0\""},
		{"bad-class-expiration", 4, "EXPIRATION: bad expiration \"0\" for class vobs"},
		{"bad-control", 3, "control character 0x01"},
		{"bad-first-error", 3, "MAX-CHILDREN: bad number \"0\""},
		{"bad-arity", 3, "ADMINISTRATOR: want one value, got 2"},
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char path[256], prefix[300];
		struct config *cf;
		const char *e;

		snprintf(path, sizeof(path), FIX "%s.conf", bad[i].file);
		snprintf(prefix, sizeof(prefix), "%s:%d: ", path, bad[i].line);
		cf = config_load(path);
		e = err_get();
		if (cf != NULL || strncmp(e, prefix, strlen(prefix)) != 0 || strstr(e, bad[i].words) == NULL ||
		    strchr(e, '\n') != NULL)
			printf("#   %s: got \"%s\", want prefix \"%s\" and \"%s\"\n", bad[i].file,
			       cf ? "(parsed)" : e, prefix, bad[i].words);
		CHECK(cf == NULL);
		CHECK(strncmp(e, prefix, strlen(prefix)) == 0);
		CHECK(strstr(e, bad[i].words) != NULL);
		CHECK(strchr(e, '\n') == NULL);
		config_free(cf);
	}
}

/* What cannot come from a fixture file: NUL bytes, size, missing files. */
static void
bad_text(void)
{
	static const char nul[] = "NODE n\nADMIN\0ISTRATOR root\n";
	struct config *cf;
	char *big;

	cf = config_load_buf(FIX "nul.conf", nul, sizeof(nul) - 1);
	CHECK(cf == NULL && starts(err_get(), FIX "nul.conf:2: NUL byte"));
	big = xmalloc(1024 * 1024 + 2);
	memset(big, '#', 1024 * 1024 + 1);
	big[1024 * 1024 + 1] = 0;
	cf = load_text(big);
	CHECK(cf == NULL && strstr(err_get(), "larger than") != NULL);
	big[1024 * 1024] = 0;			/* exactly the limit: one long comment */
	cf = load_text(big);
	CHECK(cf != NULL);
	config_free(cf);
	free(big);
	cf = config_load(FIX "no-such-file.conf");
	CHECK(cf == NULL && strstr(err_get(), "no-such-file.conf: No such file") != NULL);
	cf = config_load(FIX);
	CHECK(cf == NULL && strstr(err_get(), "not a regular file") != NULL);
	cf = load_text("NODE n\r\nLISTEN 127.0.0.1 4591\r\n");	/* CRLF is fine */
	CHECK(cf && strcmp(cf->listen_addr, "127.0.0.1") == 0 && cf->listen_port == 4591);
	config_free(cf);
	cf = load_text("NODE n # a comment\n  # indented comment\nNOTIFICATION-PROGRAM /opt/a#b\n");
	CHECK(cf && strcmp(cf->notify_program, "/opt/a#b") == 0);	/* '#' inside a word is a word */
	config_free(cf);
	/* ADMINISTRATOR is handed to NOTIFICATION-PROGRAM: an address, never an option */
	cf = load_text("NODE n\nADMINISTRATOR -oQ/tmp/x\n");
	CHECK(cf == NULL && strstr(err_get(), "inline.conf:2: ADMINISTRATOR: bad address") != NULL);
	cf = load_text("NODE n\nADMINISTRATOR ops@example.org\n");
	CHECK(cf && strcmp(cf->administrator, "ops@example.org") == 0);
	config_free(cf);
}

static int
count(const char *hay, const char *needle)
{
	int n = 0;

	for (const char *p = hay; (p = strstr(p, needle)) != NULL; p++)
		n++;
	return n;
}

static void
check_loops(void)
{
	struct config *cf;
	char *out = NULL;

	cf = load_text("NODE me\n"
		       "PEER A 10.0.0.1 4590 " KEY_A "\n"
		       "PEER B 10.0.0.2 4590 " KEY_A "\n"
		       "ROUTE A B\n"
		       "ROUTE B A\n");
	CHECK(cf != NULL);
	if (cf == NULL)
		return;
	CHECK_INT(check_output(cf, &out), 1);
	CHECK(strstr(out, FIX "inline.conf:5: ROUTE: cyclic delivery route: A -> B -> A\n") != NULL);
	free(out);
	config_free(cf);

	/* A three-node loop with a tail into it: one problem, named once. */
	cf = load_text("NODE me\n"
		       "PEER A 10.0.0.1 4590 " KEY_A "\n"
		       "PEER B 10.0.0.2 4590 " KEY_A "\n"
		       "PEER C 10.0.0.3 4590 " KEY_A "\n"
		       "ROUTE A X B\n"
		       "ROUTE B C\n"
		       "ROUTE C A\n");
	CHECK(cf != NULL);
	if (cf == NULL)
		return;
	CHECK_INT(check_output(cf, &out), 1);
	CHECK(strstr(out, FIX "inline.conf:7: ROUTE: cyclic delivery route: A -> C -> B -> A\n") != NULL);
	CHECK_INT(count(out, "cyclic"), 1);
	free(out);
	config_free(cf);
}

static void
check_next_hops(void)
{
	struct config *cf;
	char *out = NULL;

	cf = load_text("NODE me\n"
		       "PEER A 10.0.0.1 4590 " KEY_A "\n"
		       "KEY far " KEY_B "\n"
		       "ROUTE nope x\n"
		       "ROUTE far y\n"
		       "ROUTE me z\n"
		       "ROUTE A me\n"
		       "ROUTE A w ROUTE A w\n"
		       "ROUTE A v\n"
		       "ROUTE far v\n");
	CHECK(cf != NULL);
	if (cf == NULL)
		return;
	CHECK_INT(check_output(cf, &out), 6);
	CHECK(strstr(out, "inline.conf:4: ROUTE: unknown next hop nope (no PEER nope)\n") != NULL);
	CHECK(strstr(out, "inline.conf:5: ROUTE: unknown next hop far (a KEY node, line 3, has no address") != NULL);
	CHECK(strstr(out, "inline.conf:6: ROUTE: next hop me is this node\n") != NULL);
	CHECK(strstr(out, "inline.conf:7: ROUTE: destination me is this node\n") != NULL);
	CHECK(strstr(out, "inline.conf:10: ROUTE: destination v is already routed via A at line 9; this route says far\n") != NULL);
	CHECK(strstr(out, "inline.conf:10: ROUTE: unknown next hop far") != NULL);
	CHECK_INT(count(out, "inline.conf:8: ROUTE"), 0);	/* the same route twice is no conflict */
	/* The destinations table: UNROUTABLE and via, as config_next_hop says. */
	CHECK(strstr(out, "\n  far                    UNROUTABLE\n") != NULL);
	CHECK(strstr(out, "\n  x                      via nope (ROUTE at line 4)\n") != NULL);
	CHECK(strstr(out, "\n  A                      direct to 10.0.0.1:4590\n") != NULL);
	CHECK(strstr(out, "\n  me                     this node\n") != NULL);
	free(out);
	config_free(cf);

	/* A destination that is its own next hop but no PEER (found by fuzzing). */
	cf = load_text("NODE me\nROUTE X X\nPEER P 10.0.0.9 4590 " KEY_A "\nROUTE P P\n");
	CHECK(cf != NULL);
	if (cf == NULL)
		return;
	CHECK_INT(check_output(cf, &out), 1);
	CHECK(strstr(out, "inline.conf:2: ROUTE: unknown next hop X (no PEER X)\n") != NULL);
	CHECK(strstr(out, "\n  X                      via X (ROUTE at line 2)\n") != NULL);
	CHECK(strstr(out, "\n  P                      via P (ROUTE at line 4)\n") != NULL);
	CHECK(strstr(out, "cyclic") == NULL);
	free(out);
	config_free(cf);
}

/* A listen port outside the range is a warning, not a problem; keys show 16 chars. */
static void
check_clean(void)
{
	struct config *cf;
	char *out = NULL;

	const char *text = "NODE me\nLISTEN 127.0.0.1 4591\nKEY-FILE /nonexistent/k\n"
			   "CLEARCASE_MIN_PORT 49152\nCLEARCASE_MAX_PORT 49181\n"
			   "PEER A 10.0.0.1 4590 " KEY_B "\nROUTE A far\n";

	cf = config_load_buf(FIX "inline.conf", text, strlen(text));	/* with its KEY-FILE */
	CHECK(cf != NULL);
	if (cf == NULL)
		return;
	/* the missing key file is the one problem: shipd exits 2 without it */
	CHECK_INT(check_output(cf, &out), 1);
	CHECK(strstr(out, "inline.conf: warning: LISTEN port 4591 is outside the port range 49152-49181: the firewall must open it too\n") != NULL);
	CHECK(strstr(out, "inline.conf: KEY-FILE /nonexistent/k: No such file or directory") != NULL);
	CHECK(strstr(out, "\nport range               49152-49181 (30 ports)\n") != NULL);
	CHECK(strstr(out, "key shipd1:BBBBBBBBB...\n") != NULL);
	CHECK(strstr(out, "shipd1:BBBBBBBBBB") == NULL);	/* never more than 16 characters */
	CHECK(strstr(out, "\nclass -default\n  bays                   /var/spool/shipd/ms_ship\n") != NULL);
	CHECK(strstr(out, "\n  far                    via A (ROUTE at line 7)\n") != NULL);
	free(out);
	config_free(cf);

	cf = load_text("NODE me\nLISTEN 127.0.0.1 49160\n"
		       "CLEARCASE_MIN_PORT 49152\nCLEARCASE_MAX_PORT 49181\n");
	CHECK(cf != NULL);
	CHECK_INT(check_output(cf, &out), 0);
	CHECK(strstr(out, "LISTEN port") == NULL);
	free(out);
	config_free(cf);
}

/* A long loop is named once and shortened; a large file is checked quickly. */
static void
check_large(void)
{
	struct sbuf b;
	struct config *cf;
	char *out = NULL;
	clock_t t0;

	sbuf_init(&b);
	sbuf_puts(&b, "NODE me\n");
	for (int i = 0; i < 100; i++)
		sbuf_printf(&b, "PEER n%03d 10.0.0.%d 4590 " KEY_A "\n", i, i % 250 + 1);
	for (int i = 0; i < 100; i++)
		sbuf_printf(&b, "ROUTE n%03d n%03d\n", (i + 1) % 100, i);
	cf = load_text(b.s);
	CHECK(cf != NULL);
	if (cf) {
		CHECK_INT(check_output(cf, &out), 1);
		CHECK(strstr(out, "ROUTE: cyclic delivery route: n000 -> n001 -> n002") != NULL);
		CHECK(strstr(out, "(89 more) -> n000\n") != NULL);
		free(out);
	}
	config_free(cf);

	/* 40000 chained routes: every next hop unknown, no quadratic work. */
	sbuf_reset(&b);
	sbuf_puts(&b, "NODE me\n");
	for (int i = 0; i < 40000; i++)
		sbuf_printf(&b, "ROUTE h%d h%d\n", i + 1, i);
	t0 = clock();
	cf = load_text(b.s);
	CHECK(cf != NULL);
	if (cf) {
		CHECK_INT(check_output(cf, &out), 40000);
		free(out);
	}
	CHECK((clock() - t0) / CLOCKS_PER_SEC < 20);
	config_free(cf);
	sbuf_free(&b);
}

/* The example files: the seed's ROUTE lines verbatim, routing as the manual says. */
static void
examples(void)
{
	static const struct {
		const char *file, *node;
		int placeholders;
		const char *dest, *hop;
	} ex[] = {
		{"conf/examples/SiteA_host1-pinned.conf", "SiteA_host1", 9, "SiteC_host2", "SSA"},
		{"conf/examples/SSA-pinned.conf", "SSA", 5, "SiteB_host3", "SSB"},
	};
	const char *lines[] = {seed_routes[0], seed_routes[1]};

	for (size_t i = 0; i < sizeof(ex) / sizeof(ex[0]); i++) {
		struct config *cf = config_load(ex[i].file);
		char *text, *out = NULL;
		size_t len;

		CHECK(cf != NULL);
		if (cf == NULL) {
			printf("#   %s\n", err_get());
			continue;
		}
		text = read_file(ex[i].file, 1 << 20, &len);
		CHECK(text && strstr(text, lines[i]) != NULL);
		free(text);
		CHECK_STR(cf->node, ex[i].node);
		CHECK_STR(config_next_hop(cf, ex[i].dest), ex[i].hop);
		free(cf->key_file);	/* the examples' keys are made on their hosts */
		cf->key_file = NULL;
		CHECK_INT(check_output(cf, &out), ex[i].placeholders);
		CHECK_INT(count(out, "example placeholder"), ex[i].placeholders);
		CHECK(strstr(out, "cyclic") == NULL && strstr(out, "unknown next hop") == NULL);
		CHECK(strstr(out, "UNROUTABLE") == NULL);
		free(out);
		config_free(cf);
	}
	/* On the exposed host, SiteA's replica hosts are delivered to directly. */
	struct config *cf = config_load("conf/examples/SSA-pinned.conf");
	CHECK(cf && strcmp(config_next_hop(cf, "SiteA_host2"), "SiteA_host2") == 0);
	CHECK(cf && strcmp(config_next_hop(cf, "SiteC_host1"), "SSC") == 0);
	CHECK(cf && cf->min_port == 49152 && cf->max_port == 65535);
	config_free(cf);
}

/* The in-tree default: replica1 on 127.0.0.1:4591, its spool beside conf/. */
static void
default_conf(void)
{
	struct config *cf = config_load("conf/shipping.conf");
	char *out = NULL, *want;

	CHECK(cf != NULL);
	if (cf == NULL) {
		printf("#   %s\n", err_get());
		return;
	}
	CHECK_STR(cf->node, "replica1");
	CHECK_STR(cf->listen_addr, "127.0.0.1");
	CHECK_INT(cf->listen_port, 4591);
	CHECK_INT(cf->min_port, 0);
	CHECK_INT(cf->nclasses, 1);
	want = path_under(top, "spool/replica1/ms_ship");
	CHECK_STR(cf->classes[0].bays.v[0], want);
	free(want);
	want = path_under(top, "spool/replica1/ms_rtn");
	CHECK_STR(cf->classes[0].return_bay, want);
	free(want);
	free(cf->key_file);	/* made by `make demo`, not by the tests */
	cf->key_file = NULL;
	CHECK_INT(check_output(cf, &out), 0);
	CHECK(strstr(out, "port range               none: ephemeral ports\n") != NULL);
	free(out);
	config_free(cf);
}

int
main(void)
{
	const char *t = getenv("TOP");

	if (access(FIX "good-empty.conf", R_OK) != 0 && t && chdir(t) != 0) {
		printf("not ok - setup: cannot chdir to %s\n", t);
		return 1;
	}
	if (getcwd(top, sizeof(top)) == NULL)
		return 1;
	unsetenv("CLEARCASE_MIN_PORT");
	unsetenv("CLEARCASE_MAX_PORT");
	TEST(defaults);
	TEST(every_directive);
	TEST(node_defaults_to_hostname);
	TEST(seed_route_lines);
	TEST(sizes);
	TEST(durations);
	TEST(port_forms);
	TEST(env_overrides);
	TEST(class_forms);
	TEST(class_limit);
	TEST(relative_paths);
	TEST(bad_fixtures);
	TEST(bad_text);
	TEST(check_loops);
	TEST(check_next_hops);
	TEST(check_clean);
	TEST(check_large);
	TEST(examples);
	TEST(default_conf);
	T_DONE();
}
