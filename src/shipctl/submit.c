/*
 * submit.c - "shipctl submit --to DEST... FILE...": queue files for
 * shipping (MultiSite's mkorder -ship). Prints one order id per line (per
 * part). Every file and argument is checked before anything is queued;
 * exit 65 for input that will never work (unknown class, unroutable
 * destination, bad date), 66 for an unreadable file, 75 for a full bay.
 * If a later file fails with 75, the ids printed were queued, each file
 * not queued is named in one line on stderr, and no file after it is tried.
 * Several files share the queue's directory fsyncs (submit_batch): each
 * id is printed once its file is queued and durable, never before.
 *
 * --wait then follows the orders (wait.c): exit 0 once every destination
 * confirmed delivery with its receipt (--hop: once every order is done
 * here, the next hop has it), 75 when one is deferred or --timeout
 * passes, 65 when one is turned around; with no daemon running it fails
 * at once (75).
 * --hold-for-poll (mkorder -ship) queues the orders held until the next
 * poll; --out ORDER (mkorder's default and -out) checks everything and
 * writes an order file instead of queueing (73 when it cannot).
 */
#include "shipctl.h"
#include "../crypto/keys.h"
#include "../global/submit.h"
#include "orderfile.h"
#include "../trust/trust.h"
#include "wait.h"
#include "../util/log.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int
usage(void)
{
	fprintf(stderr, "usage: shipctl submit --to DEST [--to DEST...] [--class C] "
		"[--expire DAYS | --pexpire DATE-TIME] [--notify ADDR] [--comment TEXT] "
		"[--name NAME] [--copy] [--wait [--hop] [--timeout SECONDS] | --hold-for-poll | "
		"--out ORDER] FILE...\n");
	return EX_USAGE;
}

static int
readable(const char *path)
{
	struct stat sb;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);

	if (fd < 0) {
		fprintf(stderr, "shipctl: submit: %s: %s\n", path, strerror(errno));
		return 0;
	}
	if (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode)) {
		fprintf(stderr, "shipctl: submit: %s: not a regular file\n", path);
		close(fd);
		return 0;
	}
	close(fd);
	return 1;
}

/*
 * --out ORDER: everything checked, nothing queued: the request goes to an
 * order file (orderfile.h) that `shipctl ship` (shipping_server ORDER)
 * ships later. The data file stays where it is.
 */
static int
write_order_file(const struct submit_req *r, const char *path)
{
	struct ofile f = {0};
	char real[PATH_MAX];
	const char *slash = strrchr(r->path, '/');
	int rc = EX_OK;

	/* no bay is touched: the order file is the caller's own, written as the caller */
	if (realpath(r->path, real) == NULL) {
		fprintf(stderr, "shipctl: submit: %s: %s\n", r->path, strerror(errno));
		return EX_NOINPUT;
	}
	f.data = xstrdup(real);
	f.name = xstrdup(r->name ? r->name : slash ? slash + 1 : r->path);
	f.sclass = xstrdup(r->sclass ? r->sclass : DEFAULT_CLASS);
	for (int i = 0; i < r->dests.n; i++)
		strv_add(&f.dests, r->dests.v[i]);
	f.expires = r->expires;
	f.notify = r->notify ? xstrdup(r->notify) : NULL;
	f.comment = r->comment ? xstrdup(r->comment) : NULL;
	f.copy = r->copy;
	if (ofile_write(path, &f) < 0) {
		fprintf(stderr, "shipctl: submit: --out %s: %s\n", path, err_get());
		rc = EX_CANTCREAT;
	} else
		printf("%s\n", path);
	ofile_free(&f);
	return rc;
}

/* Each file of a batch, once queued (ids) or refused (err). */
struct accepted {
	struct strv *queued;
	int rc;				/* the first failure's exit status */
};

static void
accepted(void *arg, const char *path, const struct strv *ids, const char *err, int tempfail)
{
	struct accepted *a = arg;

	if (err) {
		fprintf(stderr, "shipctl: submit: %s: %s\n", path, err);
		if (a->rc == EX_OK)
			a->rc = tempfail ? EX_TEMPFAIL : EX_DATAERR;
		return;
	}
	for (int k = 0; k < ids->n; k++) {
		printf("%s\n", ids->v[k]);
		strv_add(a->queued, ids->v[k]);
	}
	fflush(stdout);
}

VERB(submit)
{
	struct submit_req r;
	struct config *cf;
	struct keys *me = NULL;
	const char *expire = NULL, *pexpire = NULL, *out = NULL;
	struct strv queued = {0};
	int i, rc = EX_OK, wait = 0, hop = 0, sock;
	double timeout = 0;

	memset(&r, 0, sizeof(r));
	for (i = 1; i < argc && argv[i][0] == '-'; i++) {
		const char *opt = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;

		if (strcmp(opt, "--") == 0) {
			i++;
			break;
		}
		if (strcmp(opt, "--copy") == 0) {
			r.copy = 1;
			continue;
		}
		if (strcmp(opt, "--wait") == 0) {
			wait = 1;
			continue;
		}
		if (strcmp(opt, "--hop") == 0) {	/* --wait until the next hop has it */
			wait = hop = 1;
			continue;
		}
		if (strcmp(opt, "--hold-for-poll") == 0) {
			r.until_poll = 1;
			continue;
		}
		if (val == NULL)
			goto usage;
		if (strcmp(opt, "--timeout") == 0) {
			char *end;

			timeout = strtod(val, &end);
			if (*end || end == val || !(timeout > 0 && timeout <= 1e7)) {
				fprintf(stderr, "shipctl: submit: bad --timeout \"%s\" (want seconds)\n",
					val);
				rc = EX_USAGE;
				goto out;
			}
			i++;
			continue;
		}
		if (strcmp(opt, "--to") == 0) {
			if (!strv_has(&r.dests, val))
				strv_add(&r.dests, val);
		} else if (strcmp(opt, "--class") == 0)
			r.sclass = val;
		else if (strcmp(opt, "--expire") == 0)
			expire = val;
		else if (strcmp(opt, "--pexpire") == 0)
			pexpire = val;
		else if (strcmp(opt, "--notify") == 0)
			r.notify = val;
		else if (strcmp(opt, "--comment") == 0)
			r.comment = val;
		else if (strcmp(opt, "--name") == 0)
			r.name = val;
		else if (strcmp(opt, "--out") == 0)
			out = val;
		else
			goto usage;
		i++;
	}
	if (r.dests.n == 0 || i >= argc || (expire && pexpire) ||
	    wait + r.until_poll + (out != NULL) > 1 || ((out || r.name) && argc - i != 1))
		goto usage;
	if (r.name && (*r.name == 0 || strchr(r.name, '/') || strcmp(r.name, ".") == 0 ||
		       strcmp(r.name, "..") == 0)) {
		fprintf(stderr, "shipctl: submit: bad --name \"%s\" (a file name, no '/')\n", r.name);
		rc = EX_USAGE;
		goto out;
	}
	if (expire) {
		char *end;
		long days;

		errno = 0;
		days = strtol(expire, &end, 10);
		if (errno || *end || end == expire || days < 1 || days > 36500) {
			fprintf(stderr, "shipctl: submit: bad --expire \"%s\" (want days, 1..36500)\n",
				expire);
			rc = EX_DATAERR;
			goto out;
		}
		r.expires = time(NULL) + days * 86400;
	}
	if (pexpire && submit_parse_date(pexpire, &r.expires) < 0) {
		fprintf(stderr, "shipctl: submit: --pexpire: %s\n", err_get());
		rc = EX_USAGE;		/* a malformed argument, as cleartool's */
		goto out;
	}
	c->keep_root = 1;	/* read the key first, then work in the bays as USER */
	cf = ctl_config(c);
	/*
	 * A daemon listening on SUBMIT-SOCKET seals what it is handed: the
	 * caller needs neither the key nor the spool. No daemon there (no
	 * socket, nobody listening): seal here, which needs the key.
	 */
	if (!out && (sock = submit_socket_open(cf->submit_socket)) >= 0) {
		for (int f = i; f < argc && rc == EX_OK; f++) {
			if (f > i && (sock = submit_socket_open(cf->submit_socket)) < 0) {
				fprintf(stderr, "shipctl: submit: %s: %s\n", cf->submit_socket,
					strerror(errno));
				rc = EX_TEMPFAIL;
				break;
			}
			rc = submit_via_socket(sock, &r, argv[f], &queued);
		}
		goto queued;
	}
	if (!out && cf->submit_socket && errno != ENOENT && errno != ECONNREFUSED) {
		fprintf(stderr, "shipctl: submit: %s: %s\n", cf->submit_socket, strerror(errno));
		rc = EX_TEMPFAIL;
		goto out;
	}

	/* every file checked before any is queued */
	for (int f = i; f < argc; f++)
		if (!readable(argv[f]) && rc == EX_OK)
			rc = EX_NOINPUT;
	for (int f = i; f < argc && rc == EX_OK; f++) {
		r.path = argv[f];
		if (submit_check(cf, &r) < 0) {
			fprintf(stderr, "shipctl: submit: %s: %s\n", argv[f], err_get());
			rc = EX_DATAERR;
		}
	}
	if (rc != EX_OK)
		goto out;
	if (out) {
		rc = write_order_file(&r, out);
		goto out;
	}
	/* the key that signs (the certified one) and the certificate that
	 * travels in every header, as the daemon's own packets have them */
	if (trust_identity(cf, &me) < 0) {
		fprintf(stderr, "shipctl: submit: %s\n", err_get());
		rc = EX_CONFIG;
		goto out;
	}
	config_add_self(cf, &me->pub);	/* a packet to this node is sealed for our own key */
	ctl_drop(c);
	/* the files share the queue's directory fsyncs, a batch at a time:
	 * each id is printed once its file is queued and durable */
	{
		struct accepted acc = { &queued, EX_OK };
		struct submit_batch *b = submit_batch_new(cf, me, accepted, &acc);

		/* a running daemon may send a large file while it is sealed here */
		r.early = 1;
		for (int f = i; f < argc; f++) {
			r.path = argv[f];
			if (submit_batch_add(b, &r) < 0)
				break;
		}
		submit_batch_flush(b);
		submit_batch_free(b);
		rc = acc.rc;
	}
queued:
	if (rc == EX_OK && wait && ctl_daemon(c) == 0) {
		/* nothing would ever move: say so now rather than wait forever */
		fprintf(stderr, "shipctl: submit: --wait: no shipd runs on %s: queued, but nothing "
			"sends it (start shipd, or run shipd --poll)\n", cf->spool);
		rc = EX_TEMPFAIL;
	} else if (rc == EX_OK && wait)
		rc = submit_wait(cf, &queued, timeout, hop);
	else if (timeout > 0 && !wait)
		fprintf(stderr, "shipctl: submit: --timeout without --wait ignored\n");
out:
	if (me)
		keys_free(me);
	strv_free(&queued);
	strv_free(&r.dests);
	return rc;
usage:
	strv_free(&r.dests);
	return usage();
}
