/*
 * returns.c - expiry, turning orders around, coming home, notifications.
 *
 * An order past its expiry is not sent: a copy travelling to its origin
 * (id ID.ret, `returning`, the reason recorded, its undelivered
 * destinations kept for a resubmit) is queued in the class's return bay,
 * and the original is finished. Relays keep it in their
 * return bays on the way; at the origin it rests in the return bay's
 * return/ state until resubmitted or purged after 14 days. The
 * administrator and the order's notify address are told at expiry and
 * again on arrival home, through NOTIFICATION-PROGRAM.
 */
#include "shipd.h"
#include "../global/confirm.h"
#include "../packet/packet.h"
#include "../global/program.h"
#include "../util/log.h"
#include "../util/mailaddr.h"
#include "../util/mem.h"
#include "../util/safefile.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define RET_SUFFIX	".ret"
#define NOTIFY_TIMEOUT	60

/*
 * Tell ADMINISTRATOR and the order's notify address, through
 * NOTIFICATION-PROGRAM as MultiSite called it:
 *   PROGRAM -s SUBJECT -f MESSAGE-FILE -- ADDRESS...
 * The addresses come after "--" and each passed mailaddr.h's grammar (the
 * order's notify is the origin's, signed in the packet header: receiver.c
 * takes it from there), so none can be read as an option.
 */
void
notify_admin(const struct order *o, const char *subject, const char *fmt, ...)
{
	char tmpl[] = "/tmp/shipd-notify.XXXXXX", body[4096];
	const char *notify = o->notify, *why;
	va_list ap;
	int fd;

	va_start(ap, fmt);
	vsnprintf(body, sizeof(body), fmt, ap);
	va_end(ap);
	if (notify && (why = mailaddr_bad(notify)) != NULL) {
		msg_warnx("order %s: notify address left out: %s", o->id, why);
		notify = NULL;
	}
	if (S->cf->notify_program == NULL) {
		msg_info("notice for %s%s%s: %s: %s", S->cf->administrator,
			 notify ? "," : "", notify ? notify : "", subject, body);
		return;
	}
	if ((fd = mkstemp(tmpl)) < 0) {
		msg_warn("notify: temporary file");
		return;
	}
	if (write_all(fd, body, strlen(body)) < 0 || write_all(fd, "\n", 1) < 0)
		msg_warn("notify: write %s", tmpl);
	close(fd);
	{
		char *argv[] = {S->cf->notify_program, "-s", (char *)subject, "-f", tmpl, "--",
				S->cf->administrator, (char *)notify, NULL};
		int st = run_program(argv, NOTIFY_TIMEOUT);

		if (st == 0)
			msg_info("notified %s%s%s: %s", S->cf->administrator, notify ? "," : "",
				 notify ? notify : "", subject);
		else
			msg_warnx("notification program %s failed (status %d) for: %s",
				  S->cf->notify_program, st, subject);
	}
	unlink(tmpl);
}

static const char *
return_bay_of(const char *bay, const struct order *o)
{
	const struct sclass *c = config_class_or_default(S->cf, o->sclass);

	return c->return_bay ? c->return_bay : bay;
}

/* Log and tell that o rests at its origin in return bay rb. */
static void
home_notice(const char *rb, const struct order *o)
{
	history_returned(o);
	msg_info("returned %s: back at its origin in %s/return (%s)", o->id, rb,
		 o->return_reason ? o->return_reason : "returned");
	notify_admin(o, "shipd: returned packet arrived home",
		     "Order %s%s%s%s could not be delivered and is back at %s in the return bay %s: "
		     "%s. Resubmit it with: shipctl resubmit %s", o->id, o->name ? " (" : "",
		     o->name ? o->name : "", o->name ? ")" : "", S->cf->node, rb,
		     o->return_reason ? o->return_reason : "returned", o->id);
}

/* The order in bay's state `from` is at its origin: it rests in the
 * return bay's return/ state (moved there, or enqueued there and then
 * finished here when the return bay is another). */
int
arrive_home(const char *bay, struct order *o, enum qstate from)
{
	const char *rb = return_bay_of(bay, o);
	int rc;

	if (strcmp(rb, bay) == 0)
		rc = from == Q_RETURN ? 0 : bay_move(bay, o->id, from, Q_RETURN);
	else if ((rc = bay_enqueue_from(bay, o->id, rb, o, Q_RETURN)) == 0 &&
		 bay_finish(bay, o->id, from) < 0)
		msg_warnx("order %s: finish after its return: %s", o->id, err_get());
	if (rc < 0) {
		msg_warnx("order %s: cannot place in return bay %s: %s", o->id, rb, err_get());
		return -1;
	}
	home_notice(rb, o);
	return 0;
}

/*
 * Turn o's destinations around toward the origin. from < 0: o stays where
 * it is (the caller removes the returned destinations); else o is finished.
 */
int
return_order(const char *bay, struct order *o, enum qstate from, const char *why)
{
	const char *rb = return_bay_of(bay, o);
	struct order back;
	struct strv hops = {0}, none = {0};
	struct sbuf list = {0};
	char kind[PKT_KIND_MAX + 1];
	int rc = -1, home;

	if (o->returning) {
		/* already on its way home and stuck: keep trying, never bounce */
		msg_warnx("order %s: on its way back to %s: %s", o->id, o->origin, why);
		return (int)from >= 0 ? bay_defer(S->cf, bay, o, from, why) : 0;
	}
	kind[0] = 0;
	history_kind(bay, o->id, kind, sizeof(kind));
	if (strcmp(kind, CONFIRM_KIND) == 0) {
		/* a receipt is never turned around: it would need a receipt itself */
		msg_warnx("order %s: delivery receipt from %s to %s dropped: %s", o->id, o->origin,
			  o->dests.n ? o->dests.v[0] : "?", why);
		if ((int)from >= 0 && bay_finish(bay, o->id, from) < 0)
			msg_warnx("order %s: finish: %s", o->id, err_get());
		return 0;
	}
	for (int i = 0; i < o->dests.n; i++)
		sbuf_printf(&list, "%s%s", i ? "," : "", o->dests.v[i]);
	back = *o;
	if (path_fmt(back.id, sizeof(back.id), "%s%s", o->id, RET_SUFFIX) < 0) {
		msg_warnx("order %s: id too long to return", o->id);
		return -1;
	}
	back.returning = 1;
	back.return_reason = xasprintf("%s (undelivered to %s)", why, list.s ? list.s : "?");
	strv_add(&hops, S->cf->node);
	back.delivered = none;
	back.hops = hops;
	back.attempts = 0;
	back.last_error = NULL;
	back.next_attempt = 0;
	msg_info("expired %s: returning toward %s: %s", o->id, o->origin, back.return_reason);
	/* the name is known at the origin only: a relay's order never has it */
	notify_admin(o, "shipd: packet expired or undeliverable",
		     "Order %s%s%s%s from %s, class %s, could not be delivered to %s: %s. "
		     "It is on its way back to %s.", o->id, o->name ? " (" : "",
		     o->name ? o->name : "", o->name ? ")" : "", o->origin,
		     o->sclass, list.s ? list.s : "?", why, o->origin);
	/* we are the origin: it is home already */
	home = strcmp(o->origin, S->cf->node) == 0;
	if (bay_enqueue_from(bay, o->id, rb, &back, home ? Q_RETURN : Q_OUTGOING) < 0) {
		msg_warnx("order %s: return: %s", o->id, err_get());
		goto out;
	}
	if (home)
		home_notice(rb, &back);
	if ((int)from >= 0) {
		if (bay_finish(bay, o->id, from) < 0)
			msg_warnx("order %s: finish after return: %s", o->id, err_get());
		else if (strcmp(kind, PKT_KIND_DATA) == 0)
			history_end(bay, o, "returned", back.return_reason);
	}
	rc = 0;
out:
	free(back.return_reason);
	strv_free(&hops);
	sbuf_free(&list);
	return rc;
}
