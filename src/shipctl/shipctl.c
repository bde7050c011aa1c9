/*
 * shipctl.c - entry point: global options (-c CONF), then dispatch to the
 * verb's own file. Unknown verbs fail loudly with the list.
 */
#include "shipctl.h"
#include "../crypto/crypto.h"
#include "../util/log.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>

static const struct verb {
	const char *name;
	int (*fn)(struct ctl *, int, char **);
	const char *usage;
} verbs[] = {
	{"submit", cmd_submit, "submit --to DEST [--to DEST...] [--class C] [--expire DAYS | --pexpire DATE-TIME] [--notify ADDR] [--comment TEXT] [--copy] [--wait [--timeout SECONDS]] FILE..."},
	{"ls", cmd_ls, "ls [--class C] [--state S] [--json | --long | --short]"},
	{"show", cmd_show, "show ID"},
	{"stats", cmd_stats, "stats [--class C] [--json]"},
	{"top", cmd_top, "top [--once] [--interval SECONDS]"},
	{"hold", cmd_hold, "hold ID..."},
	{"release", cmd_release, "release ID..."},
	{"retry", cmd_retry, "retry ID...|--all"},
	{"rm", cmd_rm, "rm ID..."},
	{"resubmit", cmd_resubmit, "resubmit ID..."},
	{"checkconf", cmd_checkconf, "checkconf"},
	{"keygen", cmd_keygen, "keygen [--rotate]"},
	{"pubkey", cmd_pubkey, "pubkey"},
	{"routes", cmd_routes, "routes [--dot | --svg FILE | --png FILE]"},
	{"firewall", cmd_firewall, "firewall [--iptables | --ip6tables]"},
	{"authority", cmd_authority, "authority init|revoke NODE|KEY|FILE.cert [--dir DIR] | authority install FILE"},
	{"certify", cmd_certify, "certify NODE.pub --name NODE [--valid DAYS] [--role relay|node] [--dir DIR] [-o FILE]"},
};

static void
usage(void)
{
	fprintf(stderr, "usage: shipctl [-c CONF] VERB [ARGS]\n");
	for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++)
		fprintf(stderr, "       shipctl %s\n", verbs[i].usage);
	exit(EX_USAGE);
}

struct config *
ctl_config(struct ctl *c)
{
	if (c->cf == NULL) {
		if ((c->cf = config_load(c->conf_path)) == NULL) {
			fprintf(stderr, "shipctl: %s\n", err_get());
			exit(EX_CONFIG);
		}
		if (!c->keep_root)
			ctl_drop(c);
	}
	return c->cf;
}

void
ctl_drop(struct ctl *c)
{
	const char *user = c->cf ? c->cf->spool_user : NULL;
	struct passwd *pw;

	if (user == NULL || geteuid() != 0)
		return;
	if ((pw = getpwnam(user)) == NULL) {
		fprintf(stderr, "shipctl: USER %s: no such user\n", user);
		exit(EX_CONFIG);
	}
	if (setgroups(0, NULL) < 0 || setgid(pw->pw_gid) < 0 || setuid(pw->pw_uid) < 0) {
		fprintf(stderr, "shipctl: cannot become USER %s: %s\n", user, strerror(errno));
		exit(EX_TEMPFAIL);
	}
}

int
main(int argc, char **argv)
{
	struct ctl c = {config_default_path(), NULL, 0};
	int i = 1, rc;

	log_open("shipctl", "stderr");
	while (i < argc && argv[i][0] == '-') {
		if (strcmp(argv[i], "-c") == 0 && i + 1 < argc) {
			c.conf_path = argv[i + 1];
			i += 2;
		} else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0)
			usage();
		else {
			fprintf(stderr, "shipctl: unknown option %s\n", argv[i]);
			usage();
		}
	}
	if (i >= argc)
		usage();
	crypto_init();
	for (size_t v = 0; v < sizeof(verbs) / sizeof(verbs[0]); v++)
		if (strcmp(argv[i], verbs[v].name) == 0) {
			if (verbs[v].fn == NULL) {
				fprintf(stderr, "shipctl: %s: not built yet\n", argv[i]);
				return EX_USAGE;
			}
			rc = verbs[v].fn(&c, argc - i, argv + i);
			if (c.cf)
				config_free(c.cf);
			return rc;
		}
	fprintf(stderr, "shipctl: unknown verb \"%s\"\n", argv[i]);
	usage();
}
