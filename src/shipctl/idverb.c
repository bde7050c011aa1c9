/*
 * idverb.c - the one loop of the ID verbs hold, release, retry, rm and
 * resubmit (queue.h): their arguments, each id located or every order of
 * the verb's states taken (--all, --state, --class), the checks they all
 * make (busy, wrong state, unparseable) and the exit status. What a verb
 * does to one order is its act() in its own file. Changes nothing itself.
 */
#include "queue.h"

#include <stdio.h>
#include <string.h>

static int
usage(const struct idverb *v)
{
	fprintf(stderr, "usage: shipctl %s ID... | --all [--state STATE] [--class CLASS]\n",
		v->name);
	return EX_USAGE;
}

static int
one(const struct config *cf, const struct idverb *v, struct qentry *e)
{
	if (qe_st(e) == Q_ACTIVE) {
		fprintf(stderr, "shipctl: %s: %s: busy: being sent\n", v->name, e->id);
		return EX_TEMPFAIL;
	}
	if (!(v->takes & QBIT(e->st))) {
		fprintf(stderr, "shipctl: %s: %s: %s (%s)\n", v->name, e->id, v->not_taken,
			qe_state(e));
		return EX_DATAERR;
	}
	if (v->parsed && !e->ok) {
		fprintf(stderr, "shipctl: %s: %s: %s\n", v->name, e->id, e->error);
		return EX_DATAERR;
	}
	return v->act(v, cf, e);
}

/* --all: every order in states (an unparseable one counts as corrupt). */
static int
every(const struct config *cf, const struct idverb *v, unsigned states, const char *cls)
{
	struct qentry *e;
	int n, done = 0, rc = EX_OK, r;

	q_collect(cf, &e, &n);
	for (int i = 0; i < n; i++) {
		unsigned bit = QBIT(e[i].ok ? qe_st(&e[i]) : Q_CORRUPT) | QBIT(qe_st(&e[i]));

		if (!(states & bit) || (v->parsed && !e[i].ok) ||
		    (cls && (!e[i].ok || strcmp(e[i].o.sclass, cls) != 0)))
			continue;
		if ((r = one(cf, v, &e[i])) == EX_OK)
			done++;
		else if (rc == EX_OK)
			rc = r;
	}
	q_free(e, n);
	fprintf(stderr, "shipctl: %s: ", v->name);
	fprintf(stderr, v->done, done, done == 1 ? "" : "s");
	fputc('\n', stderr);
	return rc;
}

int
idverb_due_now(const struct idverb *v, const struct config *cf, struct qentry *e)
{
	const char *was = qstate_name(e->st);

	e->o.next_attempt = 0;
	if (bay_rewrite(e->bay, &e->o, e->st, Q_OUTGOING, 0, NULL) < 0) {
		fprintf(stderr, "shipctl: %s: %s: %s\n", v->name, e->id, err_get());
		return EX_TEMPFAIL;
	}
	audit("%s: %s due now, from %s to outgoing in %s (after %d attempts)", v->name, e->id,
	      was, e->bay, e->o.attempts);
	return EX_OK;
}

int
idverb_run(struct ctl *c, const struct idverb *v, int argc, char **argv)
{
	const char *state = NULL, *cls = NULL;
	const struct config *cf;
	unsigned states = v->all;
	int all = 0, nids = 0, rc = EX_OK, r;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--all") == 0)
			all = 1;
		else if (strcmp(argv[i], "--state") == 0 && i + 1 < argc)
			state = argv[++i];
		else if (strcmp(argv[i], "--class") == 0 && i + 1 < argc)
			cls = argv[++i];
		else if (argv[i][0] == '-')
			return usage(v);
		else
			nids++;
	}
	if (all == (nids > 0) || (!all && (state || cls)))
		return usage(v);
	if (state) {
		enum qstate st;

		if (qstate_parse(state, &st) < 0) {
			fprintf(stderr, "shipctl: %s: %s\n", v->name, err_get());
			return EX_USAGE;
		}
		if (!(v->takes & QBIT(st))) {
			fprintf(stderr, "shipctl: %s: --state %s: %s takes no order in %s\n",
				v->name, state, v->name, state);
			return EX_USAGE;
		}
		states = QBIT(st);
	}
	cf = ctl_config(c);
	if (cls && config_class(cf, cls) == NULL) {
		fprintf(stderr, "shipctl: %s: unknown class \"%s\"\n", v->name, cls);
		return EX_DATAERR;
	}
	if (all)
		return every(cf, v, states, cls);
	for (int i = 1; i < argc; i++) {
		struct qentry e;

		if (q_locate(cf, argv[i], &e) < 0) {
			fprintf(stderr, "shipctl: %s: no order %s\n", v->name, argv[i]);
			r = EX_NOTFOUND;
		} else {
			r = one(cf, v, &e);
			qe_free(&e);
		}
		if (r != EX_OK && rc == EX_OK)
			rc = r;
	}
	return rc;
}
