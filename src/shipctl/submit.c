/*
 * submit.c - "shipctl submit --to DEST... FILE...": queue files for
 * shipping (MultiSite's mkorder -ship). Prints one order id per line (per
 * part). Every file and argument is checked before anything is queued;
 * exit 65 for input that will never work (unknown class, unroutable
 * destination, bad date), 66 for an unreadable file, 75 for a full bay.
 * If a later file fails with 75, the ids already printed were queued.
 *
 * --wait then follows the orders (wait.c): exit 0 once every one is done
 * here, 75 when one is deferred or --timeout passes, 65 when one is
 * turned around.
 */
#include "shipctl.h"
#include "../crypto/keys.h"
#include "../global/submit.h"
#include "../trust/trust.h"
#include "wait.h"
#include "../util/log.h"

#include <errno.h>
#include <fcntl.h>
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
		"[--copy] [--wait [--timeout SECONDS]] FILE...\n");
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

VERB(submit)
{
	struct submit_req r;
	struct config *cf;
	struct keys *me = NULL;
	const char *expire = NULL, *pexpire = NULL;
	struct strv queued = {0};
	int i, rc = EX_OK, wait = 0;
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
		else
			goto usage;
		i++;
	}
	if (r.dests.n == 0 || i >= argc || (expire && pexpire))
		goto usage;
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
		rc = EX_DATAERR;
		goto out;
	}
	c->keep_root = 1;	/* read the key first, then work in the bays as USER */
	cf = ctl_config(c);

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
	/* the key that signs (the certified one) and the certificate that
	 * travels in every header, as the daemon's own packets have them */
	if (trust_identity(cf, &me) < 0) {
		fprintf(stderr, "shipctl: submit: %s\n", err_get());
		rc = EX_CONFIG;
		goto out;
	}
	config_add_self(cf, &me->pub);	/* a packet to this node is sealed for our own key */
	ctl_drop(c);
	for (int f = i; f < argc; f++) {
		struct strv ids = {0};
		int tempfail;

		r.path = argv[f];
		if (submit_file(cf, me, &r, &ids, &tempfail) < 0) {
			fprintf(stderr, "shipctl: submit: %s: %s\n", argv[f], err_get());
			rc = tempfail ? EX_TEMPFAIL : EX_DATAERR;
			strv_free(&ids);
			break;
		}
		for (int k = 0; k < ids.n; k++) {
			printf("%s\n", ids.v[k]);
			strv_add(&queued, ids.v[k]);
		}
		fflush(stdout);
		strv_free(&ids);
	}
	if (rc == EX_OK && wait)
		rc = submit_wait(cf, &queued, timeout);
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
