/*
 * datetime.c - the expiry date-times of `shipctl submit --pexpire` and
 * `mkorder -pexpire` (submit.h): ClearCase's date-time grammar, plus the
 * ISO form shipd always took.
 *
 *   date-time := now | date.time | date | time | YYYY-MM-DDTHH:MM[:SS]
 *   date      := d[d]-mmm[-yy[yy]] | dayofweek | today | yesterday
 *   time      := h[h]:m[m][:s[s]] [UTC[(+|-)h[h][:m[m]]]]
 *
 * Month and day names in English, any case, abbreviated to three letters
 * or whole. A two-digit year is 19yy from 70, else 20yy. Local time unless
 * UTC is given (then the offset, if any, is the zone the time is written
 * in: 14:00UTC+2 is 12:00 UTC).
 *
 * ClearCase resolves what is left out to the most recent such moment,
 * which suits a query ("since Monday"). For an expiration a past moment is
 * useless, so here what is left out resolves forward, to the soonest such
 * moment still ahead: a weekday is the next such day (today included), a
 * date without a year is this year's if still ahead, else next year's, a
 * time alone is the next time the clock shows it. A date without a time
 * means the end of that day (23:59:59), where ClearCase takes its start:
 * "-pexpire today" then means "until tonight", not "already expired".
 * Written-out moments (a year, today, yesterday) are taken as they are;
 * the caller refuses one in the past.
 *
 * Never exits; errors via err_set(): "bad date-time" for what does not
 * parse, "not a real date" for 31-Feb and the like.
 */
#include "submit.h"
#include "../util/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char *const months[] = {"january", "february", "march", "april", "may",
				     "june", "july", "august", "september", "october",
				     "november", "december"};
static const char *const wdays[] = {"sunday", "monday", "tuesday", "wednesday",
				    "thursday", "friday", "saturday"};

/* A three-letter abbreviation or the whole name, any case: index or -1. */
static int
name_index(const char *s, size_t len, const char *const *names, int n)
{
	for (int i = 0; i < n; i++)
		if ((len == 3 || len == strlen(names[i])) && strncasecmp(s, names[i], len) == 0)
			return i;
	return -1;
}

/* 1..max digits at *p into *v (advancing *p); -1 when none. */
static int
num(const char **p, int max, int *v)
{
	int n = 0;

	*v = 0;
	while (n < max && **p >= '0' && **p <= '9') {
		*v = *v * 10 + (**p - '0');
		(*p)++;
		n++;
	}
	return n ? n : -1;
}

struct dt {
	int y, mo, d;			/* y == 0: no year given; d == 0: no date */
	int wday;			/* -1, or the day of the week asked for */
	int rel;			/* today (0) or yesterday (-1), when rel_set */
	int rel_set, have_time;
	int h, mi, s;
	int utc, off;			/* UTC given; its offset in minutes */
};

/* date := d[d]-mmm[-yy[yy]] | dayofweek | today | yesterday */
static int
parse_date(const char *s, size_t len, struct dt *t)
{
	const char *p = s, *end = s + len, *dash;
	int n;

	if (len == 5 && strncasecmp(s, "today", 5) == 0) {
		t->rel_set = 1;
		return 0;
	}
	if (len == 9 && strncasecmp(s, "yesterday", 9) == 0) {
		t->rel_set = 1;
		t->rel = -1;
		return 0;
	}
	if ((t->wday = name_index(s, len, wdays, 7)) >= 0)
		return 0;
	if (num(&p, 2, &t->d) < 0 || p >= end || *p != '-')
		return -1;
	p++;
	dash = memchr(p, '-', end - p);
	if ((t->mo = name_index(p, (dash ? dash : end) - p, months, 12) + 1) == 0)
		return -1;
	if (dash == NULL)
		return t->d >= 1 ? 0 : -1;
	p = dash + 1;
	if ((n = num(&p, 4, &t->y)) != 2 && n != 4)
		return -1;
	if (n == 2)
		t->y += t->y >= 70 ? 1900 : 2000;
	return p == end && t->d >= 1 ? 0 : -1;
}

/* time := h[h]:m[m][:s[s]] [UTC[(+|-)h[h][:m[m]]]] */
static int
parse_time(const char *p, struct dt *t)
{
	int oh = 0, om = 0, sign;

	if (num(&p, 2, &t->h) < 0 || *p++ != ':' || num(&p, 2, &t->mi) < 0)
		return -1;
	if (*p == ':' && (p++, num(&p, 2, &t->s) < 0))
		return -1;
	if (strncasecmp(p, "UTC", 3) == 0) {
		t->utc = 1;
		p += 3;
		if (*p == '+' || *p == '-') {
			sign = *p++ == '-' ? -1 : 1;
			if (num(&p, 2, &oh) < 0 || oh > 14)
				return -1;
			if (*p == ':' && (p++, num(&p, 2, &om) < 0 || om > 59))
				return -1;
			t->off = sign * (oh * 60 + om);
		}
	}
	t->have_time = 1;
	return *p == 0 && t->h <= 23 && t->mi <= 59 && t->s <= 59 ? 0 : -1;
}

/* The moment y-mo-d at the time of t (or 23:59:59); -1 if no such date. */
static time_t
moment(const struct dt *t, int y, int mo, int d)
{
	struct tm tm = {0};
	time_t r;

	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = t->have_time ? t->h : 23;
	tm.tm_min = t->have_time ? t->mi : 59;
	tm.tm_sec = t->have_time ? t->s : 59;
	tm.tm_isdst = -1;
	r = t->utc ? timegm(&tm) - (time_t)t->off * 60 : mktime(&tm);
	if (r == (time_t)-1 || tm.tm_mday != d || tm.tm_mon != mo - 1)
		return -1;
	return r;
}

/* Today's date plus k days, in the zone the date-time is written in. */
static void
day_from(const struct dt *t, time_t now, int k, int *y, int *mo, int *d)
{
	struct tm tm;
	time_t base = now + (t->utc ? (time_t)t->off * 60 : 0);

	if (t->utc)
		gmtime_r(&base, &tm);
	else
		localtime_r(&base, &tm);
	tm.tm_mday += k;
	tm.tm_hour = 12;	/* clear of DST edges while normalizing */
	tm.tm_isdst = -1;
	if (t->utc)
		timegm(&tm);
	else
		mktime(&tm);
	*y = tm.tm_year + 1900;
	*mo = tm.tm_mon + 1;
	*d = tm.tm_mday;
}

/* The ISO form: YYYY-MM-DDTHH:MM[:SS], exactly two digits a field. */
static int
parse_iso(const char *s, struct dt *t)
{
	const char *p = s;

	if (num(&p, 4, &t->y) != 4 || *p++ != '-' || num(&p, 2, &t->mo) != 2 || *p++ != '-' ||
	    num(&p, 2, &t->d) != 2 || *p++ != 'T' || num(&p, 2, &t->h) != 2 || *p++ != ':' ||
	    num(&p, 2, &t->mi) != 2)
		return -1;
	if (*p == ':' && (p++, num(&p, 2, &t->s) != 2))
		return -1;
	t->have_time = 1;
	return *p == 0 && t->mo >= 1 && t->mo <= 12 && t->d >= 1 && t->h <= 23 && t->mi <= 59 &&
	       t->s <= 59 ? 0 : -1;
}

int
datetime_expiry(const char *s, time_t now, time_t *out)
{
	struct dt t = {.wday = -1};
	const char *dot = strchr(s, '.');
	time_t r = -1;
	int y, mo, d;

	if (strcasecmp(s, "now") == 0) {
		*out = now;
		return 0;
	}
	if (strlen(s) > 4 && s[4] == '-' && s[0] >= '0' && s[0] <= '9') {
		if (parse_iso(s, &t) < 0)
			goto bad;
	} else if (dot) {
		if (parse_date(s, dot - s, &t) < 0 || parse_time(dot + 1, &t) < 0)
			goto bad;
	} else if (strchr(s, ':')) {
		if (parse_time(s, &t) < 0)
			goto bad;
	} else if (*s == 0 || parse_date(s, strlen(s), &t) < 0)
		goto bad;

	if (t.y) {				/* written out in full */
		r = moment(&t, t.y, t.mo, t.d);
	} else if (t.mo) {			/* d-mmm: this year's, else next year's */
		day_from(&t, now, 0, &y, &mo, &d);
		if ((r = moment(&t, y, t.mo, t.d)) != -1 && r <= now)
			r = moment(&t, y + 1, t.mo, t.d);
		else if (r == -1 && t.mo == 2 && t.d == 29)	/* the next leap year's */
			for (int k = 1; k <= 8 && r == -1; k++)
				r = moment(&t, y + k, 2, 29);
	} else if (t.wday >= 0) {		/* the next such day, today included */
		for (int k = 0; k <= 7; k++) {
			struct tm tm = {0};

			day_from(&t, now, k, &y, &mo, &d);
			tm.tm_year = y - 1900;
			tm.tm_mon = mo - 1;
			tm.tm_mday = d;
			tm.tm_hour = 12;
			timegm(&tm);
			if (tm.tm_wday == t.wday && (r = moment(&t, y, mo, d)) > now)
				break;
			r = -1;
		}
	} else if (t.rel_set) {			/* today, yesterday: as written */
		day_from(&t, now, t.rel, &y, &mo, &d);
		r = moment(&t, y, mo, d);
	} else {				/* a time alone: the next time it comes */
		day_from(&t, now, 0, &y, &mo, &d);
		if ((r = moment(&t, y, mo, d)) != -1 && r <= now) {
			day_from(&t, now, 1, &y, &mo, &d);
			r = moment(&t, y, mo, d);
		}
	}
	if (r == -1) {
		err_set("\"%s\" is not a real date", s);
		return -1;
	}
	*out = r;
	return 0;
bad:
	err_set("bad date-time \"%s\" (want now, d-mmm[-yyyy][.hh:mm[:ss]], today, yesterday, "
		"a weekday, hh:mm[:ss][UTC[+|-hh[:mm]]] or YYYY-MM-DDTHH:MM[:SS])", s);
	return -1;
}

int
submit_parse_date(const char *s, time_t *out)
{
	return datetime_expiry(s, time(NULL), out);
}
