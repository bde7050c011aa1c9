/*
 * shipctl.c - entry point: global options (-c CONF, --version, --help),
 * then dispatch to the verb's own file. "VERB --help" prints the verb's
 * usage and exits 0 before anything reads the configuration. Unknown verbs
 * fail loudly with the list.
 */
#include "shipctl.h"
#include "../crypto/crypto.h"
#include "../queue/spoollock.h"
#include "../util/log.h"
#include "../util/version.h"

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
	const char *what;
} verbs[] = {
	{"submit", cmd_submit, "submit --to DEST [--to DEST...] [--class C] [--expire DAYS | --pexpire DATE-TIME] [--notify ADDR] [--comment TEXT] [--name NAME] [--copy] [--wait [--hop] [--timeout SECONDS] | --hold-for-poll | --out ORDER] FILE...",
	 "queue files for shipping (MultiSite's mkorder)"},
	{"ship", cmd_ship, "ship [--class C] ORDER...",
	 "ship now what order files say: a mkorder order file is queued, a queued order made due"},
	{"ls", cmd_ls, "ls [--class C] [--state S] [--json | --long | --short] | ls --done",
	 "every order in every bay; --done: the history of ended ones"},
	{"lspacket", cmd_lspacket, "lspacket [--long | --short] [PATH...]",
	 "packets by path, as MultiSite's lspacket lists them"},
	{"show", cmd_show, "show [--json] ID",
	 "one order in full, and its history once it ended"},
	{"stats", cmd_stats, "stats [--class C] [--json | --prometheus | --textfile DIR]",
	 "queue totals per class and state; metrics for Prometheus"},
	{"top", cmd_top, "top [--once [--json]] [--interval SECONDS]",
	 "live view of the queue and the transfers in flight"},
	{"peers", cmd_peers, "peers [--json]",
	 "every next hop: up or down, last error, what waits for it, traffic"},
	{"hold", cmd_hold, "hold ID... | --all [--state S] [--class C]",
	 "stop sending orders until released"},
	{"release", cmd_release, "release ID... | --all [--state S] [--class C]",
	 "held orders go back to outgoing"},
	{"retry", cmd_retry, "retry ID... | --all [--state S] [--class C]",
	 "deferred orders are due now"},
	{"rm", cmd_rm, "rm ID... | --all [--state S] [--class C]",
	 "drop orders and their packets"},
	{"resubmit", cmd_resubmit, "resubmit ID... | --all [--state S] [--class C]",
	 "send returned orders again"},
	{"checkconf", cmd_checkconf, "checkconf [--json]",
	 "validate shipping.conf and print the effective configuration"},
	{"keygen", cmd_keygen, "keygen [--rotate | --upgrade]", "create (or rotate, or upgrade) this node's key pair"},
	{"pubkey", cmd_pubkey, "pubkey", "print this node's PEER line"},
	{"export", cmd_export, "export --to NODE DIR",
	 "write the orders for next hop NODE into DIR (a medium carried by hand)"},
	{"import", cmd_import, "import DIR",
	 "take the packets and receipts DIR holds for this node"},
	{"routes", cmd_routes, "routes [--json | --dot | --svg FILE | --png FILE]",
	 "where each destination goes"},
	{"firewall", cmd_firewall, "firewall [--iptables | --ip6tables]",
	 "the packet filter this node needs"},
	{"authority", cmd_authority, "authority init|revoke NODE|KEY|FILE.cert [--dir DIR] | authority install FILE",
	 "run a certificate authority: create it, revoke, install a revocation list"},
	{"certify", cmd_certify, "certify NODE.pub --name NODE [--valid DAYS] [--role relay|node] [--dir DIR] [-o FILE]",
	 "sign a node's certificate with the authority"},
};
#define NVERBS	(sizeof(verbs) / sizeof(verbs[0]))

static void
usage_to(FILE *f)
{
	fprintf(f, "usage: shipctl [-c CONF] VERB [ARGS]\n"
		"       shipctl --version | --help | VERB --help\n");
	for (size_t i = 0; i < NVERBS; i++)
		fprintf(f, "       shipctl %s\n", verbs[i].usage);
}

static void
usage(void)
{
	usage_to(stderr);
	exit(EX_USAGE);
}

/* "VERB --help" anywhere before "--" (or "-h" first): the verb's usage, exit 0,
 * without reading the configuration. */
static int
wants_help(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "-h") == 0)
		return 1;
	for (int i = 1; i < argc && strcmp(argv[i], "--") != 0; i++)
		if (strcmp(argv[i], "--help") == 0)
			return 1;
	return 0;
}

pid_t
ctl_daemon(struct ctl *c)
{
	return spool_lock_holder(ctl_config(c));
}

void
ctl_daemon_note(struct ctl *c, const char *verb)
{
	struct config *cf = ctl_config(c);

	if (spool_lock_holder(cf) == 0)
		fprintf(stderr, "shipctl: %s: note: no shipd runs on %s: nothing is being sent "
			"or received (start shipd, or run shipd --poll)\n", verb, cf->spool);
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
		} else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
			usage_to(stdout);
			return EX_OK;
		} else if (strcmp(argv[i], "--version") == 0 || strcmp(argv[i], "-V") == 0) {
			printf("shipctl (shipd) %s\n", SHIPD_VERSION);
			return EX_OK;
		} else {
			fprintf(stderr, "shipctl: unknown option %s\n", argv[i]);
			usage();
		}
	}
	if (i >= argc)
		usage();
	if (strcmp(argv[i], "help") == 0 && i + 1 == argc) {
		usage_to(stdout);
		return EX_OK;
	}
	for (size_t v = 0; v < NVERBS; v++)
		if (strcmp(argv[i], verbs[v].name) == 0 && wants_help(argc - i, argv + i)) {
			printf("usage: shipctl [-c CONF] %s\n  %s\n", verbs[v].usage, verbs[v].what);
			return EX_OK;
		}
	crypto_init();
	for (size_t v = 0; v < NVERBS; v++)
		if (strcmp(argv[i], verbs[v].name) == 0) {
			rc = verbs[v].fn(&c, argc - i, argv + i);
			if (c.cf)
				config_free(c.cf);
			return rc;
		}
	fprintf(stderr, "shipctl: unknown verb \"%s\"\n", argv[i]);
	usage();
}
