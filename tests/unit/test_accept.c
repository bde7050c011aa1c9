/*
 * test_accept.c - the room a receiver takes (src/global/accept.h,
 * accept_reserve): receivers that all passed the first look at the free
 * space before any wrote a byte must not all be let in. Runs on a small
 * tmpfs in a mount namespace of its own (root; make check runs as root).
 * And accept_known: an order in any state of any bay, or seen there, is
 * known; a new packet is told so in a few lookups, not one per state.
 */
#include "qt.h"
#include "global/accept.h"
#include "util/mem.h"

#include <sched.h>
#include <stdio.h>
#include <sys/mount.h>

#define MIB	(1024 * 1024)

/* path lookups the code under test makes, while counting */
static int counting, lookups;

int
lstat(const char *path, struct stat *sb)
{
	lookups += counting;
	return fstatat(AT_FDCWD, path, sb, AT_SYMLINK_NOFOLLOW);
}

int
stat(const char *path, struct stat *sb)
{
	lookups += counting;
	return fstatat(AT_FDCWD, path, sb, 0);
}

int
access(const char *path, int mode)
{
	lookups += counting;
	return faccessat(AT_FDCWD, path, mode, 0);
}

static char fsdir[PATH_MAX - 64];

/* a 4 MiB tmpfs on fsdir, seen by this process only */
static int
small_fs(void)
{
	snprintf(fsdir, sizeof(fsdir), "%s/fs", top);
	if (mkdir(fsdir, 0700) < 0 || unshare(CLONE_NEWNS) < 0 ||
	    mount("none", "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
	    mount("tmpfs", fsdir, "tmpfs", 0, "size=4m") < 0) {
		printf("# small tmpfs: %s\n", strerror(errno));
		return -1;
	}
	return 0;
}

static void
offer(struct order *o, struct pkt_info *pi, const char *id, uint64_t size, const char *dest)
{
	order_init(o);
	snprintf(o->id, sizeof(o->id), "%s", id);
	o->size = size;
	strv_add(&o->dests, dest);
	memset(pi, 0, sizeof(*pi));
	pi->total_size = size;
}

/* three 1.5 MiB packets passing through (no room to unpack needed) into
 * 4 MiB: the first look lets each in alone, the reservation only two */
static void
concurrent(void)
{
	struct config cf = cfg;
	char bay[PATH_MAX];
	struct order o[3];
	struct pkt_info pi[3];
	struct sbuf why = {0};
	uint64_t off;
	int fd[3], verdict[3];

	snprintf(bay, sizeof(bay), "%s/bay", fsdir);
	CHECK(bay_init(bay) == 0);
	cf.node = "B";
	cf.min_free_disk = 0;
	for (int i = 0; i < 3; i++) {
		char id[64];

		snprintf(id, sizeof(id), "20261206T120000Z-A-0000000%d", i);
		offer(&o[i], &pi[i], id, 3 * MIB / 2, "C");
		/* what accept_check looks at: room for the packet alone */
		CHECK(bay_room_ok(&cf, bay, o[i].size, 0) == 0);
	}
	for (int i = 0; i < 3; i++) {
		fd[i] = bay_partial_open(bay, o[i].id, o[i].size, &off);
		CHECK(fd[i] >= 0 && off == 0);
		sbuf_free(&why);
		verdict[i] = accept_reserve(&cf, bay, fd[i], 0, &o[i], &pi[i], &why);
	}
	CHECK(verdict[0] == ACC_OK);
	CHECK(verdict[1] == ACC_OK);
	CHECK(verdict[2] == ACC_LATER);
	CHECK(why.s && strstr(why.s, "bay full") != NULL);
	if (why.s)
		printf("# third: %s\n", why.s);
	/* what the first two write now fits */
	for (int i = 0; i < 2; i++) {
		char *buf = xcalloc(1, o[i].size);

		CHECK(write(fd[i], buf, o[i].size) == (ssize_t)o[i].size);
		CHECK(fsync(fd[i]) == 0);
		free(buf);
	}
	close(fd[2]);
	bay_partial_drop(bay, o[2].id);
	/* about 1 MiB left: 0.6 MiB passing through fits; for this node it
	 * fits on disk, but not with the room to unpack it */
	{
		struct order t, d;
		struct pkt_info tpi, dpi;
		int tfd, dfd;

		offer(&t, &tpi, "20261206T120000Z-A-00000010", 6 * MIB / 10, "C");
		offer(&d, &dpi, "20261206T120000Z-A-00000011", 6 * MIB / 10, "B");
		tfd = bay_partial_open(bay, t.id, t.size, &off);
		dfd = bay_partial_open(bay, d.id, d.size, &off);
		CHECK(tfd >= 0 && dfd >= 0);
		sbuf_free(&why);
		CHECK(accept_reserve(&cf, bay, dfd, 0, &d, &dpi, &why) == ACC_LATER);
		CHECK(why.s && strstr(why.s, "to unpack") != NULL);
		bay_partial_drop(bay, d.id);
		close(dfd);		/* what it reserved is free again */
		sbuf_free(&why);
		CHECK(accept_reserve(&cf, bay, tfd, 0, &t, &tpi, &why) == ACC_OK);
		close(tfd);
		order_free(&t);
		order_free(&d);
	}
	for (int i = 0; i < 3; i++) {
		if (i < 2)
			close(fd[i]);
		order_free(&o[i]);
	}
	sbuf_free(&why);
}

static int
known_counted(const struct config *cf, const char *id)
{
	int k;

	counting = 1;
	lookups = 0;
	k = accept_known(cf, id);
	counting = 0;
	return k;
}

/* every state of both bays, a seen marker, an order in corrupt/ whose
 * data went missing: known; data alone (a crash before acceptance) or
 * nothing: not, the latter in three lookups per bay (was eight) */
static void
known(void)
{
	struct config cf = cfg;
	char a[128], b[128], id[64];
	int n = 0;

	snprintf(a, sizeof(a), "%s", new_bay());
	snprintf(b, sizeof(b), "%s", new_bay());
	cf.nclasses = 1;
	cf.classes[0].name = "-default";
	strv_add(&cf.classes[0].bays, a);
	cf.classes[0].return_bay = b;
	CHECK(!known_counted(&cf, "20261206T120000Z-A-00000100"));
	printf("# lookups for an unknown id, two bays: %d\n", lookups);
	CHECK(lookups <= 6);
	for (int st = 0; st < Q_NSTATES; st++)
		for (int k = 0; k < 2; k++) {
			snprintf(id, sizeof(id), "20261206T120000Z-A-%08d", ++n);
			queue(k ? b : a, id, (enum qstate)st, "x");
			if (!known_counted(&cf, id))
				printf("#   %s in %s/%s: not known\n", id, k ? "b" : "a",
				       qstate_name((enum qstate)st));
			CHECK(accept_known(&cf, id));
		}
	/* corrupt/ without data/ */
	queue(b, "20261206T120000Z-A-00000200", Q_CORRUPT, "x");
	{
		char p[PATH_MAX];

		bay_data_path(p, sizeof(p), b, "20261206T120000Z-A-00000200");
		CHECK(unlink(p) == 0);
	}
	CHECK(accept_known(&cf, "20261206T120000Z-A-00000200"));
	/* finished: only its seen/ marker */
	CHECK(bay_mark_seen(b, "20261206T120000Z-A-00000201", 0) == 0);
	CHECK(accept_known(&cf, "20261206T120000Z-A-00000201"));
	queue(a, "20261206T120000Z-A-00000202", Q_DEFERRED, "x");
	CHECK(bay_finish(a, "20261206T120000Z-A-00000202", Q_DEFERRED) == 0);
	CHECK(accept_known(&cf, "20261206T120000Z-A-00000202"));
	/* data no order names: not known (the sender must send it again) */
	{
		char p[PATH_MAX];

		bay_data_path(p, sizeof(p), a, "20261206T120000Z-A-00000203");
		put_file(p, "x");
		CHECK(!accept_known(&cf, "20261206T120000Z-A-00000203"));
	}
	strv_free(&cf.classes[0].bays);
}

int
main(void)
{
	if (qt_start("test_accept") < 0)
		return 1;
	if (small_fs() < 0) {
		printf("not ok - small_fs (needs root: mount namespace, tmpfs)\n");
		qt_end();
		return 1;
	}
	TEST(concurrent);
	TEST(known);
	umount(fsdir);
	if (qt_end() < 0)
		return 1;
	T_DONE();
}
