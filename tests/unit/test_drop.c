/*
 * test_drop.c - when a dropped file is complete (queue/drop.h): the
 * verdict for each way a file lands in drop/DEST/ (renamed in, written in
 * place and closed, still open, linked in, found with no event), how a
 * change of inode, size, mtime or ctime restarts the quiet period, and
 * what is not a regular file; then the scan and the move aside on a real
 * directory: links never followed, FIFOs never opened, nothing replaced.
 */
#include "t.h"
#include "queue/bay.h"
#include "queue/drop.h"
#include "util/log.h"
#include "util/safefile.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>
#include <unistd.h>

#define NOW	1000000
#define P	"/bay/drop/B/f.dat"

/* A regular file, last changed at ctime. */
static struct stat
file(ino_t ino, off_t size, time_t mtime, time_t ctime)
{
	struct stat st;

	memset(&st, 0, sizeof(st));
	st.st_mode = S_IFREG | 0644;
	st.st_ino = ino;
	st.st_dev = 1;
	st.st_nlink = 1;
	st.st_size = size;
	st.st_mtim.tv_sec = mtime;
	st.st_ctim.tv_sec = ctime;
	return st;
}

static enum drop_verdict
judge(struct drop_table *t, const struct stat *st, enum drop_event ev, time_t now, int quiet,
      time_t *when)
{
	time_t w;

	return drop_judge(t, P, st, ev, now, quiet, when ? when : &w);
}

/* A pickup worker that lives on learns what its master judged complete. */
static void
set_taken_is_what_the_master_judged(void)
{
	struct drop_table *t = drop_table_new();
	struct stat st = file(7, 100, NOW, NOW), other = file(8, 100, NOW, NOW), got;

	CHECK(drop_taken(t, P, &got) < 0);
	drop_set_taken(t, P, &st);
	CHECK_INT(drop_taken(t, P, &got), 0);
	CHECK(drop_same(&got, &st));
	/* the next job under the same name: what the master says now */
	drop_set_taken(t, P, &other);
	CHECK_INT(drop_taken(t, P, &got), 0);
	CHECK(drop_same(&got, &other) && !drop_same(&got, &st));
	drop_forget(t, P);
	CHECK(drop_taken(t, P, &got) < 0);
	drop_table_free(t);
}

static void
renamed_in_is_taken_at_once(void)
{
	struct drop_table *t = drop_table_new();
	struct stat st = file(7, 100, NOW, NOW), got;

	CHECK_INT(judge(t, &st, DROP_RENAMED, NOW, 3600, NULL), DROP_TAKE);
	CHECK_INT(drop_taken(t, P, &got), 0);
	CHECK(drop_same(&got, &st));
	/* later scans see it unchanged: still complete */
	CHECK_INT(judge(t, &st, DROP_SEEN, NOW + 1, 3600, NULL), DROP_TAKE);
	drop_table_free(t);
}

static void
written_after_rename_waits_for_quiet(void)
{
	struct drop_table *t = drop_table_new();
	struct stat st = file(7, 100, NOW, NOW);
	time_t when;

	CHECK_INT(judge(t, &st, DROP_RENAMED, NOW, 5, NULL), DROP_TAKE);
	st = file(7, 200, NOW + 1, NOW + 1);	/* the writer kept writing */
	CHECK_INT(judge(t, &st, DROP_SEEN, NOW + 1, 5, &when), DROP_WAIT);
	CHECK_INT(when, NOW + 6);
	CHECK_INT(judge(t, &st, DROP_SEEN, NOW + 6, 5, NULL), DROP_TAKE);
	drop_table_free(t);
}

static void
open_file_is_never_taken_by_time_alone(void)
{
	struct drop_table *t = drop_table_new();
	struct stat st = file(7, 0, NOW, NOW);
	time_t when = 1;

	CHECK_INT(judge(t, &st, DROP_CREATED, NOW, 1, &when), DROP_WAIT);
	CHECK_INT(when, 0);	/* its close is an event: no timer */
	st = file(7, 1048576, NOW + 1, NOW + 1);
	/* the writer pauses for far longer than the quiet period */
	CHECK_INT(judge(t, &st, DROP_SEEN, NOW + 100, 1, &when), DROP_WAIT);
	CHECK_INT(judge(t, &st, DROP_SEEN, NOW + 10000, 1, &when), DROP_WAIT);
	CHECK(drop_taken(t, P, &st) < 0);
	/* closed: then quiet from its last change */
	st = file(7, 3 * 1048576, NOW + 10001, NOW + 10001);
	CHECK_INT(judge(t, &st, DROP_CLOSED, NOW + 10001, 1, &when), DROP_WAIT);
	CHECK_INT(when, NOW + 10002);
	CHECK_INT(judge(t, &st, DROP_SEEN, NOW + 10002, 1, NULL), DROP_TAKE);
	drop_table_free(t);
}

static void
closed_waits_quiet_period(void)
{
	struct drop_table *t = drop_table_new();
	struct stat st = file(7, 10, NOW, NOW);
	time_t when;

	CHECK_INT(judge(t, &st, DROP_CREATED, NOW, 5, NULL), DROP_WAIT);
	CHECK_INT(judge(t, &st, DROP_CLOSED, NOW, 5, &when), DROP_WAIT);
	CHECK_INT(when, NOW + 5);
	CHECK_INT(judge(t, &st, DROP_SEEN, NOW + 4, 5, NULL), DROP_WAIT);
	CHECK_INT(judge(t, &st, DROP_SEEN, NOW + 5, 5, NULL), DROP_TAKE);
	/* quiet 0: a closed file is taken at once */
	drop_forget(t, P);
	CHECK_INT(judge(t, &st, DROP_CREATED, NOW, 0, NULL), DROP_WAIT);
	CHECK_INT(judge(t, &st, DROP_CLOSED, NOW, 0, NULL), DROP_TAKE);
	drop_table_free(t);
}

/* Each of inode, size, mtime, ctime moving restarts the quiet period. */
static void
any_change_restarts_quiet(void)
{
	struct stat base = file(7, 10, NOW, NOW);
	struct stat changed[4];

	changed[0] = base, changed[0].st_ino = 8;
	changed[1] = base, changed[1].st_size = 11;
	changed[2] = base, changed[2].st_mtim.tv_nsec = 1;
	changed[3] = base, changed[3].st_ctim.tv_nsec = 1;
	for (int i = 0; i < 4; i++) {
		struct drop_table *t = drop_table_new();
		time_t when;

		CHECK(!drop_same(&base, &changed[i]));
		CHECK_INT(judge(t, &base, DROP_CLOSED, NOW, 5, NULL), DROP_WAIT);
		CHECK_INT(judge(t, &base, DROP_SEEN, NOW + 4, 5, NULL), DROP_WAIT);
		/* the change is seen at NOW + 4; the kernel dates it NOW + 3 */
		changed[i].st_ctim.tv_sec = NOW + 3;
		CHECK_INT(judge(t, &changed[i], DROP_SEEN, NOW + 5, 5, &when), DROP_WAIT);
		CHECK_INT(when, NOW + 8);
		CHECK_INT(judge(t, &changed[i], DROP_SEEN, NOW + 8, 5, NULL), DROP_TAKE);
		drop_table_free(t);
	}
}

/* What a scan finds with no event: judged by its ctime (start-up). */
static void
found_without_event(void)
{
	struct drop_table *t = drop_table_new();
	struct stat old = file(7, 10, NOW - 600, NOW - 600), fresh = file(8, 10, NOW, NOW);
	time_t when;

	CHECK_INT(judge(t, &old, DROP_SEEN, NOW, 5, NULL), DROP_TAKE);
	drop_forget(t, P);
	CHECK_INT(judge(t, &fresh, DROP_SEEN, NOW, 5, &when), DROP_WAIT);
	CHECK_INT(when, NOW + 5);
	/* quiet 0 still wants a second: the scan may be ahead of IN_CREATE */
	drop_forget(t, P);
	CHECK_INT(judge(t, &fresh, DROP_SEEN, NOW, 0, &when), DROP_WAIT);
	CHECK_INT(when, NOW + 1);
	/* a ctime in the future (clock skew) counts from when it was seen */
	drop_forget(t, P);
	fresh.st_ctim.tv_sec = NOW + 3600;
	CHECK_INT(judge(t, &fresh, DROP_SEEN, NOW, 5, &when), DROP_WAIT);
	CHECK_INT(when, NOW + 5);
	drop_table_free(t);
}

static void
hard_link_is_not_waiting_for_a_close(void)
{
	struct drop_table *t = drop_table_new();
	struct stat st = file(7, 10, NOW - 60, NOW);

	st.st_nlink = 2;
	CHECK_INT(judge(t, &st, DROP_CREATED, NOW, 2, NULL), DROP_WAIT);
	CHECK_INT(judge(t, &st, DROP_SEEN, NOW + 2, 2, NULL), DROP_TAKE);
	drop_table_free(t);
}

static void
pickup_reports_back(void)
{
	struct drop_table *t = drop_table_new();
	struct stat st = file(7, 10, NOW - 60, NOW - 60);
	time_t when;

	/* the pickup found it changed: a whole quiet period from now */
	CHECK_INT(judge(t, &st, DROP_RENAMED, NOW, 5, NULL), DROP_TAKE);
	CHECK_INT(judge(t, &st, DROP_CHANGED, NOW + 1, 5, &when), DROP_WAIT);
	CHECK_INT(when, NOW + 6);
	CHECK_INT(judge(t, &st, DROP_SEEN, NOW + 6, 5, NULL), DROP_TAKE);
	/* open for writing: waits for the close, however long */
	CHECK_INT(judge(t, &st, DROP_WRITING, NOW + 7, 5, NULL), DROP_WAIT);
	CHECK_INT(judge(t, &st, DROP_SEEN, NOW + 700, 5, NULL), DROP_WAIT);
	CHECK_INT(judge(t, &st, DROP_CLOSED, NOW + 701, 5, NULL), DROP_TAKE);
	/* a bay full: not before RETRY-MIN */
	drop_later(t, P, NOW + 760);
	CHECK_INT(judge(t, &st, DROP_SEEN, NOW + 702, 5, &when), DROP_WAIT);
	CHECK_INT(when, NOW + 760);
	CHECK_INT(judge(t, &st, DROP_SEEN, NOW + 760, 5, NULL), DROP_TAKE);
	drop_table_free(t);
}

static void
lost_events_free_waiting_files(void)
{
	struct drop_table *t = drop_table_new();
	struct stat st = file(7, 10, NOW, NOW);

	CHECK_INT(judge(t, &st, DROP_CREATED, NOW, 5, NULL), DROP_WAIT);
	CHECK_INT(judge(t, &st, DROP_SEEN, NOW + 60, 5, NULL), DROP_WAIT);
	drop_events_lost(t);	/* its close may have been one of them */
	CHECK_INT(judge(t, &st, DROP_SEEN, NOW + 61, 5, NULL), DROP_TAKE);
	drop_table_free(t);
}

static void
taken_is_what_was_judged(void)
{
	struct drop_table *t = drop_table_new();
	struct stat a = file(7, 10, NOW - 60, NOW - 60), b = file(7, 20, NOW, NOW), got;

	CHECK_INT(judge(t, &a, DROP_SEEN, NOW, 5, NULL), DROP_TAKE);
	CHECK_INT(judge(t, &b, DROP_SEEN, NOW, 5, NULL), DROP_WAIT);
	/* the pickup compares against what was judged complete, not b */
	CHECK_INT(drop_taken(t, P, &got), 0);
	CHECK(drop_same(&got, &a));
	drop_table_free(t);
}

static void
not_regular_goes_aside(void)
{
	mode_t modes[] = { S_IFLNK, S_IFIFO, S_IFDIR, S_IFCHR, S_IFBLK, S_IFSOCK };
	const char *kinds[] = { "symbolic link", "FIFO", "directory", "character device",
				"block device", "socket" };

	for (int i = 0; i < 6; i++) {
		struct drop_table *t = drop_table_new();
		struct stat st = file(7, 10, NOW - 60, NOW - 60), got;

		st.st_mode = modes[i] | 0777;
		CHECK_INT(judge(t, &st, DROP_RENAMED, NOW, 0, NULL), DROP_ASIDE);
		CHECK(drop_taken(t, P, &got) < 0);
		CHECK_STR(drop_kind(st.st_mode), kinds[i]);
		CHECK_INT(drop_logged(t, P), 0);
		CHECK_INT(drop_logged(t, P), 1);	/* once */
		drop_table_free(t);
	}
}

static void
temp_names(void)
{
	CHECK(bay_drop_is_temp_name(".x"));
	CHECK(bay_drop_is_temp_name("#x#"));
	CHECK(bay_drop_is_temp_name("x~"));
	CHECK(bay_drop_is_temp_name("x.tmp"));
	CHECK(bay_drop_is_temp_name("x.part"));
	CHECK(bay_drop_is_temp_name("x.swp"));
	CHECK(!bay_drop_is_temp_name("x.dat"));
	CHECK(!bay_drop_is_temp_name("tmp"));
}

/* ---- on a real directory ---- */

static char top[64], bay[128];
static struct strv taken;

static void
take(void *arg, const char *b, const char *path)
{
	strv_add(&taken, path);
}

static int
exists(const char *fmt, const char *a)
{
	char p[PATH_MAX];
	struct stat st;

	snprintf(p, sizeof(p), fmt, bay, a);
	return lstat(p, &st) == 0;
}

static void
scan_takes_and_sets_aside(void)
{
	char p[PATH_MAX], target[PATH_MAX];
	struct drop_table *t = drop_table_new();
	struct drop_scan s = { t, time(NULL) + 3600, 5, take, NULL, 0 };
	int fd;

	snprintf(p, sizeof(p), "%s/drop/B", bay);
	CHECK_INT(mkdirs(p, 0770), 0);
	CHECK_INT(safe_write(p, "old.dat", "hello\n", 6, 0644), 0);
	snprintf(target, sizeof(target), "%s/secret", top);
	CHECK_INT(safe_write(top, "secret", "secret\n", 7, 0600), 0);
	snprintf(p, sizeof(p), "%s/drop/B/link", bay);
	CHECK_INT(symlink(target, p), 0);
	snprintf(p, sizeof(p), "%s/drop/B/fifo", bay);
	CHECK_INT(mkfifo(p, 0600), 0);
	snprintf(p, sizeof(p), "%s/drop/B/a b?", bay);	/* not an id: listed as a_b_ */
	CHECK_INT(mkdir(p, 0700), 0);
	snprintf(p, sizeof(p), "%s/drop/B/.hidden", bay);
	CHECK_INT(mkfifo(p, 0600), 0);
	snprintf(p, sizeof(p), "%s/drop", bay);
	CHECK_INT(safe_write(p, "stray", "x", 1, 0644), 0);	/* not in a DEST */
	snprintf(p, sizeof(p), "%s/drop/C", bay);
	CHECK_INT(symlink(top, p), 0);

	drop_scan(&s, bay);
	CHECK_INT(taken.n, 1);
	snprintf(p, sizeof(p), "%s/drop/B/old.dat", bay);
	CHECK(taken.n == 1 && strcmp(taken.v[0], p) == 0);
	CHECK(exists("%s/corrupt/%s", "drop.B.link"));
	CHECK(exists("%s/corrupt/%s.why", "drop.B.link"));
	CHECK(exists("%s/corrupt/%s", "drop.B.fifo"));
	CHECK(exists("%s/corrupt/%s", "drop.B.a_b_"));
	CHECK(exists("%s/corrupt/%s", "drop.stray"));
	CHECK(exists("%s/corrupt/%s", "drop.C"));
	CHECK(exists("%s/drop/B/%s", ".hidden"));	/* a writer's business */
	CHECK(!exists("%s/drop/B/%s", "link"));
	snprintf(target, sizeof(target), "%s/secret", top);
	CHECK_INT(access(target, F_OK), 0);	/* the link's target stays */
	{
		char why[PATH_MAX];
		size_t len;
		char *text;

		snprintf(why, sizeof(why), "%s/corrupt/drop.B.link.why", bay);
		text = read_file(why, 4096, &len);
		CHECK(text && strstr(text, "drop/B/link: a symbolic link (never followed)"));
		free(text);
		snprintf(why, sizeof(why), "%s/corrupt/drop.C.why", bay);
		text = read_file(why, 4096, &len);
		CHECK(text && strstr(text, "one directory per destination"));
		free(text);
	}
	/* the corrupt/ listing shows them, and loading one never opens it */
	{
		struct order o;

		CHECK(bay_load(bay, "drop.B.fifo", Q_CORRUPT, &o) < 0);
		CHECK(strstr(err_get(), "FIFO") != NULL);
		order_free(&o);
	}
	/* a second link of the same name is moved beside it, not over it */
	snprintf(p, sizeof(p), "%s/drop/B/link", bay);
	CHECK_INT(symlink("/nonexistent", p), 0);
	strv_free(&taken);
	drop_scan(&s, bay);
	CHECK(exists("%s/corrupt/%s", "drop.B.link.1"));
	CHECK(exists("%s/corrupt/%s", "drop.B.link"));
	/* a file still open for writing: the lease probe says so */
	snprintf(p, sizeof(p), "%s/drop/B/old.dat", bay);
	fd = open(p, O_WRONLY);
	{
		int r = open(p, O_RDONLY | O_NONBLOCK);

		CHECK_INT(drop_writer_open(r), 1);
		close(fd);
		CHECK_INT(drop_writer_open(r), 0);
		close(r);
	}
	/* made with O_TMPFILE and linked in: closed as "#INODE" */
	{
		char dir[PATH_MAX], tmpl[PATH_MAX], lp[PATH_MAX], hash[32];
		struct stat st;
		int w;

		snprintf(dir, sizeof(dir), "%s/drop/B", bay);
		w = open(dir, O_TMPFILE | O_WRONLY, 0600);
		CHECK(w >= 0 && write(w, "tmpfile\n", 8) == 8);
		snprintf(tmpl, sizeof(tmpl), "/proc/self/fd/%d", w);
		snprintf(lp, sizeof(lp), "%s/drop/B/linked.dat", bay);
		CHECK_INT(linkat(AT_FDCWD, tmpl, AT_FDCWD, lp, AT_SYMLINK_FOLLOW), 0);
		strv_free(&taken);
		drop_look(&s, bay, dir, "linked.dat", DROP_CREATED);
		CHECK_INT(taken.n, 0);	/* waits for its close */
		close(w);
		CHECK_INT(lstat(lp, &st), 0);
		snprintf(hash, sizeof(hash), "#%llu", (unsigned long long)st.st_ino);
		drop_look(&s, bay, dir, hash, DROP_CLOSED);
		CHECK(taken.n == 1 && strcmp(taken.v[0], lp) == 0);
		unlink(lp);
		strv_free(&taken);
	}
	/* gone from the tree: forgotten */
	CHECK_INT(unlink(p), 0);
	strv_free(&taken);
	drop_scan(&s, bay);
	CHECK_INT(taken.n, 0);
	CHECK_INT(drop_count(t), 0);
	strv_free(&taken);
	drop_table_free(t);
}

int
main(void)
{
	snprintf(top, sizeof(top), "/tmp/test_drop.XXXXXX");
	if (mkdtemp(top) == NULL)
		return 2;
	snprintf(bay, sizeof(bay), "%s/bay", top);
	if (bay_init(bay) < 0)
		return 2;
	TEST(renamed_in_is_taken_at_once);
	TEST(set_taken_is_what_the_master_judged);
	TEST(written_after_rename_waits_for_quiet);
	TEST(open_file_is_never_taken_by_time_alone);
	TEST(closed_waits_quiet_period);
	TEST(any_change_restarts_quiet);
	TEST(found_without_event);
	TEST(hard_link_is_not_waiting_for_a_close);
	TEST(pickup_reports_back);
	TEST(lost_events_free_waiting_files);
	TEST(taken_is_what_was_judged);
	TEST(not_regular_goes_aside);
	TEST(temp_names);
	TEST(scan_takes_and_sets_aside);
	{
		char cmd[128];

		snprintf(cmd, sizeof(cmd), "rm -rf %s", top);
		if (system(cmd) != 0)
			return 2;
	}
	T_DONE();
}
