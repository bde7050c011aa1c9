/*
 * lspacket.c - "shipctl lspacket [--long | --short] [PATH...]": packets
 * by path, the way MultiSite's lspacket lists them (scripts/lspacket).
 *
 * Without PATH: every packet in every storage and return bay. A PATH may
 * be a bay, one of its state directories, its data/ or incoming/
 * directory, an order or a sealed packet in a bay, a file delivered into
 * incoming/ (described from its receipt when one names it), a shipping
 * order file mkorder wrote, or any directory holding such order files.
 *
 * Default: a block per packet (path, type and state, origin, created,
 * comment, targets, part); --long adds every field of the order;
 * --short prints path names only. A PATH that holds no packet is said so
 * on stderr (exit 1). Read-only.
 */
#include "shipctl.h"
#include "orderfile.h"
#include "queue.h"
#include "../util/log.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

enum form { F_DEFAULT, F_LONG, F_SHORT };

static int
name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Directory entries (no dot files), sorted; -1 when it cannot be read. */
static int
list_dir(const char *dir, struct strv *names)
{
	struct dirent *de;
	DIR *dp = opendir(dir);

	if (dp == NULL)
		return -1;
	while ((de = readdir(dp)) != NULL)
		if (de->d_name[0] != '.')
			strv_add(names, de->d_name);
	closedir(dp);
	if (names->n)
		qsort(names->v, names->n, sizeof(*names->v), name_cmp);
	return 0;
}

struct lsp {
	const struct config *cf;
	enum form form;
	time_t now;
	int shown;
};

static void
print_targets(const struct order *o)
{
	printf("  Packet intended for the following targets:");
	for (int i = 0; i < o->dests.n; i++)
		printf(" %s", o->dests.v[i]);
	if (o->delivered.n) {
		printf(" (done:");
		for (int i = 0; i < o->delivered.n; i++)
			printf(" %s", o->delivered.v[i]);
		printf(")");
	}
	printf("\n");
}

static void
print_common(const struct order *o, time_t now)
{
	char stamp[64], buf[1024];
	struct tm tm;

	localtime_r(&o->created, &tm);
	strftime(stamp, sizeof(stamp), "%Y-%m-%d %H:%M:%S", &tm);
	printf("  Origin: %s, created %s\n", o->origin, stamp);
	printf("  Comment supplied at packet creation is: %s\n",
	       fmt_safe(o->comment ? o->comment : "", sizeof(buf) - 1, buf, sizeof(buf)));
	print_targets(o);
	printf("  The packet sequence number is %d (of %d)\n", o->part, o->nparts);
}

/* An order in a bay. */
static void
show_entry(struct lsp *l, const struct qentry *e)
{
	char data[PATH_MAX], order[PATH_MAX], d[32], buf[1024];
	struct stat sb;

	bay_data_path(data, sizeof(data), e->bay, e->id);
	bay_path(order, sizeof(order), e->bay, e->st, e->id);
	l->shown++;
	if (stat(data, &sb) < 0)
		snprintf(data, sizeof(data), "%s", order);	/* no packet: the order is the thing */
	if (l->form == F_SHORT) {
		printf("%s\n", data);
		return;
	}
	if (l->shown > 1)
		printf("\n");
	printf("Packet is: %s\n", data);
	printf("  Shipping order: %s (%s", order, qe_state(e));
	if (e->ok && e->st == Q_DEFERRED) {
		if (e->o.next_attempt == BAY_NEXT_POLL)
			printf(", held for the next poll");
		else if (e->o.next_attempt > l->now)
			printf(", next attempt in %s", fmt_dur(e->o.next_attempt - l->now, d, sizeof(d)));
	}
	printf(")\n");
	if (qe_error(e))
		printf("  Last error: %s\n", fmt_safe(qe_error(e), sizeof(buf) - 1, buf, sizeof(buf)));
	if (!e->ok)
		return;
	print_common(&e->o, l->now);
	if (l->form == F_LONG) {
		printf("\n");
		print_long(stdout, e, l->now);
	}
}

static void
show_ofile(struct lsp *l, const char *path)
{
	struct ofile f;
	char buf[1024];

	if (ofile_read(path, &f) < 0) {
		fprintf(stderr, "shipctl: lspacket: %s\n", err_get());
		return;
	}
	l->shown++;
	if (l->form == F_SHORT) {
		printf("%s\n", f.data);
	} else {
		if (l->shown > 1)
			printf("\n");
		printf("Packet is: %s\n", f.data);
		printf("  Shipping order: %s (not shipped yet: shipping_server %s ships it)\n", path,
		       path);
		printf("  Class: %s, delivered as %s%s\n", f.sclass,
		       fmt_safe(f.name, 255, buf, sizeof(buf)), f.copy ? ", kept once shipped (-copy)" : "");
		printf("  Comment supplied at packet creation is: %s\n",
		       fmt_safe(f.comment ? f.comment : "", sizeof(buf) - 1, buf, sizeof(buf)));
		printf("  Packet intended for the following targets:");
		for (int i = 0; i < f.dests.n; i++)
			printf(" %s", f.dests.v[i]);
		printf("\n");
	}
	ofile_free(&f);
}

/* The receipt whose order delivered NAME into incoming/ (NAME, or NAME_N
 * after a clash), newest first; 0 and *o filled when found. */
static int
find_receipt(const char *bay, const char *name, struct order *o)
{
	char dir[PATH_MAX], path[PATH_MAX], base[NAME_MAX + 1];
	time_t best = 0;
	struct dirent *de;
	const char *us = strrchr(name, '_');
	DIR *dp;
	int found = -1;

	snprintf(base, sizeof(base), "%s", name);
	if (us && us[1] && strspn(us + 1, "0123456789") == strlen(us + 1))
		base[us - name] = 0;	/* NAME_2: delivered as NAME, renamed on a clash */
	if (bay_path(dir, sizeof(dir), bay, Q_RECEIPTS, NULL) < 0 || (dp = opendir(dir)) == NULL)
		return -1;
	while ((de = readdir(dp)) != NULL) {
		struct order r;
		struct stat sb;

		if (de->d_name[0] == '.' ||
		    (size_t)snprintf(path, sizeof(path), "%s/%s", dir, de->d_name) >= sizeof(path) ||
		    stat(path, &sb) < 0 || !S_ISREG(sb.st_mode))
			continue;
		order_init(&r);
		if (order_load(path, &r) == 0 && r.name &&
		    (strcmp(r.name, name) == 0 || strcmp(r.name, base) == 0) &&
		    sb.st_mtime >= best) {
			if (found == 0)
				order_free(o);
			*o = r;
			best = sb.st_mtime;
			found = 0;
			continue;
		}
		order_free(&r);
	}
	closedir(dp);
	return found;
}

/* A file delivered into a bay's incoming/. */
static void
show_received(struct lsp *l, const char *bay, const char *path, const char *name)
{
	struct order o;

	l->shown++;
	if (l->form == F_SHORT) {
		printf("%s\n", path);
		return;
	}
	if (l->shown > 1)
		printf("\n");
	printf("Packet is: %s\n", path);
	if (find_receipt(bay, name, &o) < 0) {
		printf("  Received here (no receipt names it)\n");
		return;
	}
	printf("  Received here: order %s\n", o.id);
	print_common(&o, l->now);
	if (l->form == F_LONG) {
		struct qentry e = {0};

		e.bay = (char *)bay;
		e.st = Q_OUTGOING;
		snprintf(e.id, sizeof(e.id), "%s", o.id);
		e.ok = 1;
		e.o = o;
		printf("\n");
		print_long(stdout, &e, l->now);
	}
	order_free(&o);
}

static int
show_incoming_dir(struct lsp *l, const char *bay, const char *dir)
{
	struct strv names = {0};

	if (list_dir(dir, &names) < 0)
		return -1;
	for (int i = 0; i < names.n; i++) {
		char path[PATH_MAX];
		struct stat sb;

		if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, names.v[i]) < sizeof(path) &&
		    stat(path, &sb) == 0 && S_ISREG(sb.st_mode))
			show_received(l, bay, path, names.v[i]);
	}
	strv_free(&names);
	return 0;
}

/* Orders of one bay (every state, or only st when st >= 0). */
static void
show_bay(struct lsp *l, struct qentry *v, int n, const char *bay, int st)
{
	for (int i = 0; i < n; i++)
		if (strcmp(v[i].bay, bay) == 0 && (st < 0 || (int)v[i].st == st))
			show_entry(l, &v[i]);
}

/* One PATH argument; 0 when it named at least one packet. */
static int
show_path(struct lsp *l, struct qentry *v, int n, const char *path)
{
	char bay[PATH_MAX], sub[64], rest[PATH_MAX];
	int before = l->shown;
	enum qstate st;
	struct stat sb;

	if (stat(path, &sb) < 0) {
		fprintf(stderr, "shipctl: lspacket: %s: %s\n", path, strerror(errno));
		return -1;
	}
	if (q_path_bay(l->cf, path, bay, sizeof(bay), sub, sizeof(sub), rest, sizeof(rest)) == 0) {
		int isstate = qstate_parse(sub, &st) == 0;

		if (S_ISDIR(sb.st_mode) && *rest == 0) {
			if (*sub == 0 || strcmp(sub, qstate_name(Q_DATA)) == 0)
				show_bay(l, v, n, bay, -1);
			else if (isstate)
				show_bay(l, v, n, bay, st);
			else if (strcmp(sub, qstate_name(Q_INCOMING)) == 0)
				show_incoming_dir(l, bay, path);
		} else if (strcmp(sub, qstate_name(Q_INCOMING)) == 0 && S_ISREG(sb.st_mode)) {
			const char *slash = strrchr(path, '/');

			show_received(l, bay, path, slash ? slash + 1 : path);
		} else if ((isstate || strcmp(sub, qstate_name(Q_DATA)) == 0) && strchr(rest, '/') == NULL) {
			for (int i = 0; i < n; i++)
				if (strcmp(v[i].bay, bay) == 0 && strcmp(v[i].id, rest) == 0)
					show_entry(l, &v[i]);
		}
	} else if (S_ISDIR(sb.st_mode)) {
		struct strv names = {0};

		if (list_dir(path, &names) < 0) {
			fprintf(stderr, "shipctl: lspacket: %s: %s\n", path, strerror(errno));
			return -1;
		}
		for (int i = 0; i < names.n; i++) {
			char p[PATH_MAX];

			if ((size_t)snprintf(p, sizeof(p), "%s/%s", path, names.v[i]) < sizeof(p) &&
			    ofile_is(p))
				show_ofile(l, p);
		}
		strv_free(&names);
	} else if (ofile_is(path))
		show_ofile(l, path);
	if (l->shown == before) {
		fprintf(stderr, "shipctl: lspacket: %s: no packet there\n", path);
		return -1;
	}
	return 0;
}

VERB(lspacket)
{
	struct lsp l = {0};
	struct qentry *v;
	int n, i = 1, rc = EX_OK;

	for (; i < argc && argv[i][0] == '-'; i++) {
		if (strcmp(argv[i], "--long") == 0 && l.form == F_DEFAULT)
			l.form = F_LONG;
		else if (strcmp(argv[i], "--short") == 0 && l.form == F_DEFAULT)
			l.form = F_SHORT;
		else if (strcmp(argv[i], "--") == 0) {
			i++;
			break;
		} else {
			fprintf(stderr, "usage: shipctl lspacket [--long | --short] [PATH...]\n");
			return EX_USAGE;
		}
	}
	l.cf = ctl_config(c);
	l.now = time(NULL);
	q_collect(l.cf, &v, &n);
	if (i >= argc)
		for (int k = 0; k < n; k++)
			show_entry(&l, &v[k]);
	for (; i < argc; i++)
		if (show_path(&l, v, n, argv[i]) < 0)
			rc = EX_NOTFOUND;
	q_free(v, n);
	if (fflush(stdout) != 0)
		return EX_TEMPFAIL;
	return rc;
}
