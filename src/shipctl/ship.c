/*
 * ship.c - "shipctl ship [--class C] ORDER...": ship now what each ORDER
 * names, MultiSite's `shipping_server order-pname ...`:
 *
 *   - an order file mkorder wrote (orderfile.h; by default sh_o_NAME beside
 *     the data file, or the -out path): the file is sealed and queued as
 *     `submit` would (the data file removed unless the order says copy),
 *     the ids printed, and the order file removed: the queue has it now;
 *   - an order in a bay, by path (BAY/STATE/ID or BAY/data/ID) or by id:
 *     held (hold/, or deferred/ until the next poll) or deferred, it is due
 *     now (rewritten, then renamed to outgoing/); already outgoing or being
 *     sent, nothing to do.
 *
 * With --class, orders of another class are left alone (exit 1). Exit: 0
 * all shipped, 1 an order not found or of another class, 65 an order that
 * will never go (malformed, returned, corrupt), 66 unreadable, 75 try later.
 */
#include "shipctl.h"
#include "orderfile.h"
#include "queue.h"
#include "../crypto/keys.h"
#include "../global/submit.h"
#include "../util/log.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int
usage(void)
{
	fprintf(stderr, "usage: shipctl ship [--class C] ORDER...\n");
	return EX_USAGE;
}

/* The id an argument names in a bay: a bare id, or a path BAY/STATE/ID or
 * BAY/data/ID of one of our bays. NULL when neither. */
static const char *
bay_order_id(const struct config *cf, const char *arg)
{
	const char *slash = strrchr(arg, '/');
	char bay[PATH_MAX], sub[64], rest[PATH_MAX];
	enum qstate st;

	if (slash == NULL)
		return order_id_valid(arg) ? arg : NULL;
	if (!order_id_valid(slash + 1) ||
	    q_path_bay(cf, arg, bay, sizeof(bay), sub, sizeof(sub), rest, sizeof(rest)) < 0 ||
	    strcmp(rest, slash + 1) != 0)
		return NULL;
	return qstate_parse(sub, &st) == 0 || strcmp(sub, qstate_name(Q_DATA)) == 0 ? slash + 1 : NULL;
}

static int
make_due(const struct config *cf, const char *cls, const char *arg, const char *id)
{
	struct qentry e;
	int rc = EX_OK;

	if (q_locate(cf, id, &e) < 0) {
		fprintf(stderr, "shipctl: ship: %s: no order %s in any bay\n", arg, id);
		return EX_NOTFOUND;
	}
	if (!e.ok) {
		fprintf(stderr, "shipctl: ship: %s: %s\n", arg, qe_error(&e));
		rc = EX_DATAERR;
	} else if (cls && strcmp(e.o.sclass, cls) != 0) {
		fprintf(stderr, "shipctl: ship: %s: of class %s, not %s: left alone\n", arg,
			e.o.sclass, cls);
		rc = EX_NOTFOUND;
	} else if (e.st == Q_HOLD || e.st == Q_DEFERRED) {
		e.o.next_attempt = 0;
		if (bay_rewrite(e.bay, &e.o, e.st, Q_OUTGOING, 0, NULL) < 0) {
			fprintf(stderr, "shipctl: ship: %s: %s\n", arg, err_get());
			rc = EX_TEMPFAIL;
		} else {
			audit("ship: %s due now in %s", id, e.bay);
			printf("%s\n", id);
		}
	} else if (e.st == Q_OUTGOING || e.st == Q_ACTIVE || e.st == Q_JOINING) {
		printf("%s\n", id);	/* on its way already */
	} else if (e.st == Q_RETURN) {
		fprintf(stderr, "shipctl: ship: %s: expired and returned here "
			"(shipctl resubmit %s sends it again)\n", arg, id);
		rc = EX_DATAERR;
	} else {
		fprintf(stderr, "shipctl: ship: %s: %s: %s\n", arg, qe_state(&e),
			qe_error(&e) ? qe_error(&e) : "refused");
		rc = EX_DATAERR;
	}
	qe_free(&e);
	return rc;
}

/* A mkorder order file: queue it, then it is used up. */
static int
ship_file(const struct config *cf, const struct keys *me, const char *cls, const char *path)
{
	struct submit_req r = {0};
	struct strv ids = {0};
	struct ofile f;
	int tempfail, rc = EX_OK;

	if (ofile_read(path, &f) < 0) {
		fprintf(stderr, "shipctl: ship: %s\n", err_get());
		return EX_DATAERR;
	}
	if (cls && strcmp(f.sclass, cls) != 0) {
		fprintf(stderr, "shipctl: ship: %s: of class %s, not %s: left alone\n", path,
			f.sclass, cls);
		ofile_free(&f);
		return EX_NOTFOUND;
	}
	r.path = f.data;
	r.name = f.name;
	r.sclass = f.sclass;
	r.dests = f.dests;
	r.expires = f.expires;
	r.notify = f.notify;
	r.comment = f.comment;
	r.copy = f.copy;
	if (access(f.data, R_OK) < 0) {
		fprintf(stderr, "shipctl: ship: %s: data file %s: %s\n", path, f.data,
			strerror(errno));
		rc = EX_NOINPUT;
	} else if (submit_file(cf, me, &r, &ids, &tempfail) < 0) {
		fprintf(stderr, "shipctl: ship: %s: %s\n", path, err_get());
		rc = tempfail ? EX_TEMPFAIL : EX_DATAERR;
	} else {
		for (int i = 0; i < ids.n; i++)
			printf("%s\n", ids.v[i]);
		if (unlink(path) < 0)
			fprintf(stderr, "shipctl: ship: %s: queued, but cannot remove the order "
				"file: %s\n", path, strerror(errno));
	}
	fflush(stdout);
	strv_free(&ids);
	ofile_free(&f);
	return rc;
}

VERB(ship)
{
	const char *cls = NULL;
	struct keys *me = NULL;
	struct config *cf;
	int i = 1, rc = EX_OK, r, files = 0;

	if (i + 1 < argc && strcmp(argv[i], "--class") == 0) {
		cls = argv[i + 1];
		i += 2;
	}
	if (i < argc && strcmp(argv[i], "--") == 0)
		i++;
	if (i >= argc)
		return usage();
	c->keep_root = 1;	/* sealing reads the key first, then works as USER */
	cf = ctl_config(c);
	if (cls && config_class(cf, cls) == NULL) {
		fprintf(stderr, "shipctl: ship: unknown class \"%s\"\n", cls);
		return EX_DATAERR;
	}
	for (int k = i; k < argc; k++)
		files += ofile_is(argv[k]);
	if (files) {
		if (keys_load(cf->key_file, &me) < 0) {
			fprintf(stderr, "shipctl: ship: %s\n", err_get());
			return EX_CONFIG;
		}
		config_add_self(cf, &me->pub);
	}
	ctl_drop(c);
	for (; i < argc; i++) {
		const char *id;
		struct stat sb;

		if (ofile_is(argv[i]))
			r = ship_file(cf, me, cls, argv[i]);
		else if ((id = bay_order_id(cf, argv[i])) != NULL)
			r = make_due(cf, cls, argv[i], id);
		else if (stat(argv[i], &sb) < 0) {
			fprintf(stderr, "shipctl: ship: %s: %s\n", argv[i], strerror(errno));
			r = EX_NOINPUT;
		} else {
			fprintf(stderr, "shipctl: ship: %s: neither an order file mkorder wrote nor "
				"an order in a bay\n", argv[i]);
			r = EX_DATAERR;
		}
		if (r != EX_OK && (rc == EX_OK || r > rc))
			rc = r;
	}
	if (me)
		keys_free(me);
	return rc;
}
