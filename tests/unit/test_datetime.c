/*
 * test_datetime.c - the -pexpire date-time grammar (global/datetime.c):
 * every ClearCase form, resolved forward for an expiration, against a
 * fixed "now" in UTC so the answers never depend on the clock.
 */
#include "t.h"
#include "global/submit.h"
#include "util/log.h"

#include <time.h>

/* Tuesday 2026-11-24 10:30:00 UTC */
#define NOW	((time_t)1795516200)

static time_t
at(const char *s)
{
	time_t t = 0;

	if (datetime_expiry(s, NOW, &t) < 0) {
		printf("#   \"%s\": %s\n", s, err_get());
		return -1;
	}
	return t;
}

static time_t
utc(int y, int mo, int d, int h, int mi, int s)
{
	struct tm tm = {.tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d, .tm_hour = h,
			.tm_min = mi, .tm_sec = s};

	return timegm(&tm);
}

static void
test_full_dates(void)
{
	CHECK_INT(at("01-Jan-2027"), utc(2027, 1, 1, 23, 59, 59));	/* a date alone: its end */
	CHECK_INT(at("01-jan-27"), utc(2027, 1, 1, 23, 59, 59));
	CHECK_INT(at("1-January-2027.08:15"), utc(2027, 1, 1, 8, 15, 0));
	CHECK_INT(at("24-Nov-2026.18:30"), utc(2026, 11, 24, 18, 30, 0));	/* MultiSite's */
	CHECK_INT(at("2030-01-02T03:04:05"), utc(2030, 1, 2, 3, 4, 5));
	CHECK_INT(at("10-Dec-2026.14:00:30"), utc(2026, 12, 10, 14, 0, 30));
}

static void
test_forward(void)
{
	/* no year: this year's while ahead, else next year's */
	CHECK_INT(at("10-Dec"), utc(2026, 12, 10, 23, 59, 59));
	CHECK_INT(at("10-Dec.14:00"), utc(2026, 12, 10, 14, 0, 0));
	CHECK_INT(at("01-Nov"), utc(2027, 11, 1, 23, 59, 59));
	CHECK_INT(at("24-Nov.09:00"), utc(2027, 11, 24, 9, 0, 0));	/* passed this morning */
	CHECK_INT(at("29-Feb"), utc(2028, 2, 29, 23, 59, 59));		/* the next leap day */
	/* weekdays: the next such day, today (a Tuesday) included while ahead */
	CHECK_INT(at("Monday"), utc(2026, 11, 30, 23, 59, 59));
	CHECK_INT(at("tue"), utc(2026, 11, 24, 23, 59, 59));
	CHECK_INT(at("Tuesday.09:00"), utc(2026, 12, 1, 9, 0, 0));
	CHECK_INT(at("Wed.06:00"), utc(2026, 11, 25, 6, 0, 0));
	/* a time alone: the next time the clock shows it */
	CHECK_INT(at("14:00"), utc(2026, 11, 24, 14, 0, 0));
	CHECK_INT(at("9:05"), utc(2026, 11, 25, 9, 5, 0));
}

static void
test_relative(void)
{
	CHECK_INT(at("today"), utc(2026, 11, 24, 23, 59, 59));
	CHECK_INT(at("Today.18:00"), utc(2026, 11, 24, 18, 0, 0));
	CHECK_INT(at("today.08:00"), utc(2026, 11, 24, 8, 0, 0));	/* as written: past */
	CHECK_INT(at("yesterday"), utc(2026, 11, 23, 23, 59, 59));
	CHECK_INT(at("now"), NOW);
}

static void
test_utc(void)
{
	CHECK_INT(at("10-Dec-2026.14:00UTC"), utc(2026, 12, 10, 14, 0, 0));
	CHECK_INT(at("10-Dec-2026.14:00UTC+2"), utc(2026, 12, 10, 12, 0, 0));
	CHECK_INT(at("10-Dec-2026.14:00UTC-05:30"), utc(2026, 12, 10, 19, 30, 0));
	/* local time is the default: in EST5, 14:00 is 19:00 UTC */
	setenv("TZ", "EST5", 1);
	tzset();
	CHECK_INT(at("10-Dec-2026.14:00"), utc(2026, 12, 10, 19, 0, 0));
	CHECK_INT(at("10-Dec-2026.14:00UTC"), utc(2026, 12, 10, 14, 0, 0));
	setenv("TZ", "UTC", 1);
	tzset();
}

static void
test_bad(void)
{
	static const char *bad[] = {"", "tomorrow", "32-Jan-2027", "10-Foo", "10-Dec-2027.25:00",
				    "10-Dec.14", "10-Dec.14:00UTC+15", "10-Dec-2027 14:00",
				    "Mondays", "14:00:60", "10-Dec-202", "2030-1-01T03:04",
				    "10--Dec", "-10-Dec", "14:00 UTC", "yesterday.", ".14:00"};
	time_t t;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (datetime_expiry(bad[i], NOW, &t) == 0)
			printf("#   accepted \"%s\"\n", bad[i]);
		CHECK(datetime_expiry(bad[i], NOW, &t) < 0);
	}
	CHECK(strstr(err_get(), "bad date-time") != NULL);
	CHECK(datetime_expiry("31-Feb-2027", NOW, &t) < 0);
	CHECK(strstr(err_get(), "not a real date") != NULL);
}

int
main(void)
{
	setenv("TZ", "UTC", 1);
	tzset();
	TEST(test_full_dates);
	TEST(test_forward);
	TEST(test_relative);
	TEST(test_utc);
	TEST(test_bad);
	T_DONE();
}
