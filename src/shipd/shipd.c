/*
 * shipd.c - the shipping server's entry point.
 *
 *   shipd [-c CONF] [-f] [--poll] [-sclass CLASS]
 *
 * Runs in the foreground (what systemd and tests want). -f logs to stderr
 * whatever LOG says. --poll makes one pass over every storage and return
 * bay (retry what is due, expire what is old, purge old returns, retry
 * failed receipt handlers) and exits: 0 when everything due went out, 75
 * when something is still waiting, 2 on a configuration error.
 */
#include "shipd.h"
#include "../crypto/crypto.h"
#include "../queue/progress.h"
#include "../trust/trust.h"
#include "../util/log.h"
#include "../util/mem.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct shipd *S;

static void
usage(void)
{
	fprintf(stderr, "usage: shipd [-c CONF] [-f] [--poll] [-sclass CLASS]\n");
	exit(64);
}

/*
 * Privilege split: started as root, shipd reads the secret key file (root
 * 0600 is fine) and then becomes USER for good, before it creates a bay or
 * opens a socket. Every process that touches the network or the spool runs
 * as USER and holds the key only in memory; none can read the key file
 * again. Started as USER (systemd's User=), the key file must be USER's.
 */
static void
drop_privileges(void)
{
	const char *user = S->cf->spool_user;
	struct passwd *pw;

	if (geteuid() != 0) {
		if (user && (pw = getpwnam(user)) != NULL && pw->pw_uid != geteuid())
			msg_warnx("USER %s ignored: not started as root", user);
		return;
	}
	if (user == NULL) {
		msg_warnx("running as root: set USER in %s so that no process reading "
			  "network bytes runs as root", S->conf_path);
		return;
	}
	if ((pw = getpwnam(user)) == NULL)
		msg_fatal_status(2, "USER %s: no such user", user);
	if (pw->pw_uid == 0)
		msg_fatal_status(2, "USER %s: must not be root", user);
	if (S->cf->listen_addr && S->cf->listen_port < 1024)
		msg_fatal_status(2, "LISTEN port %d needs root; with USER use a port of 1024 "
				 "or more", S->cf->listen_port);
	if (setgroups(0, NULL) < 0 || setgid(pw->pw_gid) < 0 || setuid(pw->pw_uid) < 0)
		msg_fatal("cannot become USER %s: %s", user, strerror(errno));
	if (setuid(0) == 0)
		msg_panic("still able to regain root after dropping to %s", user);
	msg_info("running as %s (uid %ld); the key stays in memory only", user,
		 (long)pw->pw_uid);
}

/* Create and recover every bay; a bay that cannot be made ready is fatal. */
static void
prepare_bays(void)
{
	struct strv bays = {0};

	bay_all(S->cf, &bays);
	for (int i = 0; i < bays.n; i++) {
		struct recovery r = {0};

		if (bay_init(bays.v[i]) < 0)
			msg_fatal_status(2, "bay %s: %s", bays.v[i], err_get());
		progress_clean(bays.v[i]);
		if (bay_recover(bays.v[i], &r) < 0)
			msg_fatal("bay %s: recovery: %s", bays.v[i], err_get());
		if (r.tmp_removed || r.active_requeued || r.data_orphans ||
		    r.unpack_removed || r.unpack_finished || r.corrupted)
			msg_info("recovered bay %s: %d temporary files removed, %d active orders "
				 "requeued, %d orphan packets removed, %d unpack dirs removed, "
				 "%d deliveries finished, %d unreadable orders to corrupt/",
				 bays.v[i], r.tmp_removed, r.active_requeued, r.data_orphans,
				 r.unpack_removed, r.unpack_finished, r.corrupted);
	}
	strv_free(&bays);
}

int
main(int argc, char **argv)
{
	const char *conf = config_default_path(), *log_override = NULL, *sclass = NULL;
	int poll_mode = 0;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-c") == 0 && i + 1 < argc)
			conf = argv[++i];
		else if (strcmp(argv[i], "-f") == 0)
			log_override = "stderr";
		else if (strcmp(argv[i], "--poll") == 0 || strcmp(argv[i], "-poll") == 0)
			poll_mode = 1;
		else if ((strcmp(argv[i], "-sclass") == 0 || strcmp(argv[i], "--sclass") == 0) &&
			 i + 1 < argc)
			sclass = argv[++i];
		else
			usage();
	}
	log_open("shipd", "stderr");
	crypto_init();
	umask(077);
	signal(SIGPIPE, SIG_IGN);

	S = xcalloc(1, sizeof(*S));
	S->conf_path = conf;
	S->statfd = -1;
	S->poll_mode = poll_mode;
	S->only_class = sclass;
	if ((S->cf = config_load(conf)) == NULL) {
		fprintf(stderr, "shipd: %s\n", err_get());
		return 2;
	}
	if (S->only_class && config_class(S->cf, S->only_class) == NULL) {
		fprintf(stderr, "shipd: unknown storage class %s\n", S->only_class);
		return 2;
	}
	log_open("shipd", log_override ? log_override :
		 S->cf->log_dest ? S->cf->log_dest : poll_mode ? "stderr" : "syslog");
	if (trust_identity(S->cf, &S->keys) < 0)
		msg_fatal_status(2, "%s", err_get());
	config_add_self(S->cf, &S->keys->pub);
	trust_attach(S->cf);
	drop_privileges();
	prepare_bays();
	return master_run();
}
