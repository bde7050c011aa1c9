/*
 * shipd.c - the shipping server's entry point.
 *
 *   shipd [-c CONF] [-f] [--poll] [-sclass CLASS]
 *
 * Runs in the foreground (what systemd and tests want). -f logs to stderr
 * and to every file: of LOG (syslog left out). --poll makes one pass over every storage and return
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
#include "../util/version.h"

#include <errno.h>
#include <grp.h>
#include <malloc.h>
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

static void
retry_handlers(struct sched *sc, const char *bay)
{
	deliver_retry_handlers(bay);
}

/* Create one bay's directories and recover what a crash left; -1 with
 * err_set naming the bay. */
static int
prepare_bay(const char *bay)
{
	struct recovery r = {0};
	char why[900];

	if (bay_init(bay) < 0) {
		snprintf(why, sizeof(why), "%s", err_get());
		err_set("bay %s: %s", bay, why);
		return -1;
	}
	if (bay_recover(bay, &r) < 0) {
		snprintf(why, sizeof(why), "%s", err_get());
		err_set("bay %s: recovery: %s", bay, why);
		return -1;
	}
	history_owed_recover(bay, time(NULL));	/* no receiver of ours is alive yet */
	if (r.tmp_removed || r.active_requeued || r.data_orphans ||
	    r.unpack_removed || r.unpack_finished || r.corrupted)
		msg_info("recovered bay %s: %d temporary files removed, %d active orders "
			 "requeued, %d orphan packets removed, %d unpack dirs removed, "
			 "%d deliveries finished, %d unreadable orders to corrupt/",
			 bay, r.tmp_removed, r.active_requeued, r.data_orphans,
			 r.unpack_removed, r.unpack_finished, r.corrupted);
	return 0;
}

/* Create and recover every bay; a bay that cannot be made ready is fatal. */
static void
prepare_bays(void)
{
	struct strv bays = {0};

	bay_all(S->cf, &bays);
	for (int i = 0; i < bays.n; i++)
		if (prepare_bay(bays.v[i]) < 0)
			msg_fatal_status(2, "%s", err_get());
	strv_free(&bays);
}

/*
 * A reload's bays: every bay of cf that the running configuration does
 * not have is made and recovered as at start-up (no worker of ours works
 * in it yet); the others are made sure to exist. -1 with err_set (naming
 * the bay) when one cannot be made ready: the caller keeps the running
 * configuration.
 */
int
reload_bays(const struct config *cf)
{
	struct strv bays = {0}, old = {0};
	int rc = 0;

	bay_all(cf, &bays);
	bay_all(S->cf, &old);
	for (int i = 0; i < bays.n && rc == 0; i++) {
		if (!strv_has(&old, bays.v[i])) {
			msg_info("reload: new bay %s", bays.v[i]);
			rc = prepare_bay(bays.v[i]);
		} else if (bay_init(bays.v[i]) < 0) {
			char why[900];

			snprintf(why, sizeof(why), "%s", err_get());
			err_set("bay %s: %s", bays.v[i], why);
			rc = -1;
		}
	}
	strv_free(&bays);
	strv_free(&old);
	return rc;
}

/*
 * Where to log: LOG (default syslog; --poll without LOG: stderr). -f
 * writes to stderr and still to every file: of LOG, leaving syslog out
 * (a foreground run's stderr is the terminal or the journal already).
 */
static char *
log_dest(const char *conf_log, int foreground, int poll_mode)
{
	struct sbuf b = {0};
	char *copy, *tok, *save;

	if (!foreground)
		return xstrdup(conf_log ? conf_log : poll_mode ? "stderr" : "syslog");
	sbuf_puts(&b, "stderr");
	copy = xstrdup(conf_log ? conf_log : "");
	for (tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save))
		if (strncmp(tok, "file:", 5) == 0)
			sbuf_printf(&b, ",%s", tok);
	free(copy);
	return b.s;
}

int
main(int argc, char **argv)
{
	const char *conf = config_default_path(), *sclass = NULL;
	int poll_mode = 0, foreground = 0, rc;
	char *logdest;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-c") == 0 && i + 1 < argc)
			conf = argv[++i];
		else if (strcmp(argv[i], "-f") == 0)
			foreground = 1;
		else if (strcmp(argv[i], "--poll") == 0 || strcmp(argv[i], "-poll") == 0)
			poll_mode = 1;
		else if (strcmp(argv[i], "--version") == 0 || strcmp(argv[i], "-V") == 0) {
			printf("shipd %s\n", SHIPD_VERSION);
			return 0;
		} else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			printf("usage: shipd [-c CONF] [-f] [--poll] [-sclass CLASS] | --version\n");
			return 0;
		} else if ((strcmp(argv[i], "-sclass") == 0 || strcmp(argv[i], "--sclass") == 0) &&
			 i + 1 < argc)
			sclass = argv[++i];
		else
			usage();
	}
	log_open("shipd", "stderr");
	/*
	 * The heap keeps what it grew by: a worker that opens packet after
	 * packet otherwise trims its heap after each one and grows it again
	 * for the next, a brk(2) pair or two per packet (on a paravirtualized
	 * guest every system call costs). Up to a few MiB of free heap stay
	 * with a process (RSS bound: 32 MiB), and buffers under 1 MiB come
	 * from the heap, not from an mmap/munmap of their own each time.
	 * Set before the first fork: every worker inherits it.
	 */
	mallopt(M_MMAP_THRESHOLD, 1 << 20);
	mallopt(M_TRIM_THRESHOLD, 4 << 20);
	mallopt(M_TOP_PAD, 1 << 20);
	crypto_init();
	umask(077);
	signal(SIGPIPE, SIG_IGN);

	S = xcalloc(1, sizeof(*S));
	S->conf_path = conf;
	S->statfd = -1;
	S->lockfd = -1;
	S->poll_mode = poll_mode;
	if ((S->cf = config_load(conf)) == NULL) {
		fprintf(stderr, "shipd: %s\n", err_get());
		return 2;
	}
	if (sclass && config_class(S->cf, sclass) == NULL) {
		fprintf(stderr, "shipd: unknown storage class %s\n", sclass);
		return 2;
	}
	sched_init(&S->sched, S->cf);
	S->sched.only_class = sclass;
	if (poll_mode)	/* --poll also retries receipt handlers that failed */
		S->sched.scanned = retry_handlers;
	S->sched.scan_drops = pickup_scan;
	logdest = log_dest(S->cf->log_dest, foreground, poll_mode);
	log_open("shipd", logdest);
	free(logdest);
	/* the stored public halves checked against the secrets once a start
	 * (keys.h): every load trusts them when the file's check line matches */
	if (trust_identity(S->cf, &S->keys) < 0 || keys_verify(S->keys, S->cf->key_file) < 0)
		msg_fatal_status(2, "%s", err_get());
	{
		struct keys *k;
		int current = 1;

		if (keys_load_form(S->cf->key_file, &k, &current) == 0)
			keys_free(k);
		if (!current)
			msg_warnx("KEY-FILE %s is of the old form: every program that loads it "
				  "derives its public halves (shipctl keygen --upgrade rewrites it)",
				  S->cf->key_file);
	}
	config_add_self(S->cf, &S->keys->pub);
	trust_attach(S->cf);
	drop_privileges();
	if ((rc = spool_claim()) >= 0)
		return rc;
	prepare_bays();
	if (once_init() < 0)
		msg_warn("shared memory for once-per-run notes (they will repeat)");
	return master_run();
}
