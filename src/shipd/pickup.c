/*
 * pickup.c - inotify watches that make shipd react at once, and the
 * drop-a-file step.
 *
 * Watched, for every bay: outgoing/ (an order renamed in by shipctl submit,
 * a receiver or a retry), tmp/ (ID.early: a large file shipctl submit
 * seals, to send while it is sealed, cutthrough.c), joining/ (a part waiting for siblings), drop/
 * (a new DEST directory) and each drop/DEST/ (a file created, closed after
 * writing, or moved in). IN_Q_OVERFLOW means events were lost: everything
 * is rescanned. Dotfiles and temporary names are ignored.
 *
 * Whether a drop is complete is queue/drop.h's to say (renamed in: at
 * once; written in place: closed, then unchanged for DROP-QUIET-TIME);
 * what is not a regular file is moved aside there, never followed.
 * pickup_file() runs in a child: it opens the drop judged complete
 * without following a link or blocking, checks it is still that file and
 * that no one has it open for writing, and turns it into an order with the
 * shared submission step (submit.c), exactly as shipctl submit.
 */
#include "shipd.h"
#include "../global/submit.h"
#include "../queue/drop.h"
#include "../util/log.h"
#include "../util/mem.h"
#include "../util/safefile.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <dirent.h>
#include <unistd.h>

enum wkind { W_OUTGOING, W_JOINING, W_DROPROOT, W_DROPDEST, W_IMPORT, W_TMP };

struct watch {
	enum wkind kind;
	char *bay;
	char *dir;
};

static void add_watch(const char *bay, const char *dir, enum wkind kind);

static void
watch_free(void *p)
{
	struct watch *w = p;

	free(w->bay);
	free(w->dir);
	free(w);
}

void
pickup_watch_import(const char *dir)
{
	add_watch(dir, dir, W_IMPORT);
}

static void
add_watch(const char *bay, const char *dir, enum wkind kind)
{
	uint32_t mask = kind == W_DROPROOT ? IN_CREATE | IN_MOVED_TO | IN_ONLYDIR | IN_DONT_FOLLOW
		      : kind == W_DROPDEST ? IN_CREATE | IN_CLOSE_WRITE | IN_MOVED_TO | IN_ONLYDIR |
					     IN_DONT_FOLLOW
		      : IN_MOVED_TO | IN_CLOSE_WRITE | IN_ONLYDIR;
	int wd = inotify_add_watch(S->inofd, dir, mask);
	struct watch *w;
	char key[16];

	if (wd < 0) {
		msg_warn("inotify watch on %s", dir);
		return;
	}
	w = xmalloc(sizeof(*w));
	w->kind = kind;
	w->bay = xstrdup(bay);
	w->dir = xstrdup(dir);
	snprintf(key, sizeof(key), "%d", wd);
	if ((w = htab_put(S->watches, key, w)) != NULL)
		watch_free(w);	/* same directory watched again: keep one record */
}

/* A real directory in drop/ is a DEST; anything else the drop scan moves aside. */
static void
watch_drop_dest(const char *bay, const char *path)
{
	struct stat st;

	if (lstat(path, &st) == 0 && S_ISDIR(st.st_mode))
		add_watch(bay, path, W_DROPDEST);
}

static void
watch_drop_dests(const char *bay, const char *droot)
{
	char sub[PATH_MAX];
	struct dirent *d;
	DIR *dp = opendir(droot);

	if (dp == NULL)
		return;
	while ((d = readdir(dp)) != NULL)
		if (d->d_name[0] != '.' &&
		    path_fmt(sub, sizeof(sub), "%s/%s", droot, d->d_name) == 0)
			watch_drop_dest(bay, sub);
	closedir(dp);
}

/* ---- drops: the master's side (queue/drop.h judges) ---- */

static struct drop_table *
drops(void)
{
	if (S->drops == NULL)
		S->drops = drop_table_new();
	return S->drops;
}

static void
take_drop(void *arg, const char *bay, const char *path)
{
	qmgr_enqueue(&S->sched, J_PICKUP, bay, path);
}

static void
drop_ctx(struct drop_scan *s)
{
	memset(s, 0, sizeof(*s));
	s->t = drops();
	s->now = time(NULL);
	s->quiet = S->cf->drop_quiet;
	s->take = take_drop;
}

static void
wake_at(time_t when)
{
	if (when && (S->sched.next_due == 0 || when < S->sched.next_due))
		S->sched.next_due = when;
}

/* Every drop of a bay: what is complete is queued, the rest timed (the
 * scheduler's scan_drops hook). */
void
pickup_scan(struct sched *sc, const char *bay)
{
	struct drop_scan s;

	drop_ctx(&s);
	drop_scan(&s, bay);
	wake_at(s.next);
}

static void
drop_event(const char *bay, const char *dir, const char *name, enum drop_event ev)
{
	struct drop_scan s;

	drop_ctx(&s);
	drop_look(&s, bay, dir, name, ev);
	wake_at(s.next);
}

/* A pickup worker exited with code. */
void
pickup_exited(const struct job *j, int code)
{
	const char *slash = strrchr(j->id, '/');
	char dir[PATH_MAX];

	switch (code) {
	case 0:
		break;
	case PICKUP_CHANGED:
	case PICKUP_WRITING:
		/* judged again: quiet again, or waiting for the writer's close */
		if (slash && (size_t)(slash - j->id) < sizeof(dir)) {
			snprintf(dir, sizeof(dir), "%.*s", (int)(slash - j->id), j->id);
			drop_event(j->bay, dir, slash + 1,
				   code == PICKUP_CHANGED ? DROP_CHANGED : DROP_WRITING);
		}
		break;
	case 75:
		/* may work later (bay full): look again after RETRY-MIN */
		drop_later(drops(), j->id, time(NULL) + S->cf->retry_min);
		wake_at(time(NULL) + S->cf->retry_min);
		S->failures++;
		break;
	default:
		S->failures++;
	}
}

int
pickup_init(void)
{
	struct strv bays = {0};
	char dir[PATH_MAX];

	if (S->inofd >= 0) {
		/* a reload: start from a clean set of watches on the same fd
		 * (the events in between are lost) */
		drop_events_lost(drops());
		htab_free(S->watches, watch_free);
		S->watches = htab_new();
		close(S->inofd);
	}
	S->inofd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (S->inofd < 0) {
		err_set("inotify_init1: %s", strerror(errno));
		return -1;
	}
	bay_all(S->cf, &bays);
	for (int i = 0; i < bays.n; i++) {
		const char *b = bays.v[i];

		if (bay_path(dir, sizeof(dir), b, Q_OUTGOING, NULL) == 0)
			add_watch(b, dir, W_OUTGOING);
		if (bay_path(dir, sizeof(dir), b, Q_JOINING, NULL) == 0)
			add_watch(b, dir, W_JOINING);
		/* a file sealed by shipctl submit while sent (cutthrough.c) */
		if (bay_path(dir, sizeof(dir), b, Q_TMP, NULL) == 0)
			add_watch(b, dir, W_TMP);
		if (path_fmt(dir, sizeof(dir), "%s/drop", b) == 0) {
			mkdirs(dir, 0700);
			add_watch(b, dir, W_DROPROOT);
			watch_drop_dests(b, dir);
		}
	}
	strv_free(&bays);
	import_watch();
	return 0;
}

void
pickup_event(void)
{
	char buf[64 * 1024] __attribute__((aligned(__alignof__(struct inotify_event))));
	ssize_t n;

	while ((n = read(S->inofd, buf, sizeof(buf))) > 0) {
		for (char *p = buf; p < buf + n;) {
			struct inotify_event *ev = (struct inotify_event *)p;
			struct watch *w;
			char key[16], path[PATH_MAX];

			p += sizeof(*ev) + ev->len;
			if (ev->mask & IN_Q_OVERFLOW) {
				msg_warnx("inotify queue overflowed: rescanning every bay");
				drop_events_lost(drops());
				qmgr_scan_all(&S->sched, 0);
				continue;
			}
			snprintf(key, sizeof(key), "%d", ev->wd);
			if (ev->mask & IN_IGNORED) {
				if ((w = htab_del(S->watches, key)) != NULL)
					watch_free(w);
				continue;
			}
			if ((w = htab_get(S->watches, key)) == NULL || ev->len == 0 ||
			    (w->kind != W_DROPDEST && bay_drop_is_temp_name(ev->name)))
				continue;
			switch (w->kind) {
			case W_OUTGOING:
				qmgr_enqueue_new(&S->sched, w->bay, ev->name);
				break;
			case W_JOINING:
				qmgr_scan_joining(&S->sched, w->bay);
				break;
			case W_DROPROOT:
				if (path_fmt(path, sizeof(path), "%s/%s", w->dir, ev->name) == 0) {
					watch_drop_dest(w->bay, path);
					/* files may have landed before the watch */
					qmgr_scan_drops(&S->sched, w->bay);
				}
				break;
			case W_IMPORT:
				import_event(w->dir);
				break;
			case W_TMP:
				if (ev->mask & IN_MOVED_TO)
					early_request(w->bay, ev->name);
				break;
			case W_DROPDEST:
				drop_event(w->bay, w->dir, ev->name,
					   ev->mask & IN_MOVED_TO ? DROP_RENAMED :
					   ev->mask & IN_CLOSE_WRITE ? DROP_CLOSED : DROP_CREATED);
				break;
			default:
				msg_panic("pickup_event: unknown watch kind %d", w->kind);
			}
		}
	}
}

/*
 * In a child: the drop at path, judged complete (drop_taken), becomes an
 * order for its directory's DEST. Exit 0 done (or nothing to do), 65
 * refused (moved to corrupt/), 75 try again later, PICKUP_CHANGED /
 * PICKUP_WRITING the master judges it again.
 */
int
pickup_file(const char *bay, const char *path)
{
	const struct sclass *c = config_bay_class(S->cf, bay);
	struct submit_req r = {0};
	struct strv ids = {0};
	char dir[PATH_MAX], label[PATH_MAX + 8], why[2 * PATH_MAX], as[ORDER_ID_MAX];
	const char *name = strrchr(path, '/'), *dest;
	struct stat snap, st;
	int dfd = -1, fd = -1, tempfail = 0, rc;

	if (name == NULL || (size_t)(name - path) >= sizeof(dir) ||
	    drop_taken(S->drops, path, &snap) < 0)
		return 0;	/* not judged complete: nothing to do */
	snprintf(dir, sizeof(dir), "%.*s", (int)(name - path), path);
	name++;
	dest = strrchr(dir, '/') ? strrchr(dir, '/') + 1 : dir;
	/* never through a link, never blocking: the file judged, or nothing */
	if ((dfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0 ||
	    (fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)) < 0) {
		rc = errno == ENOENT ? 0 : PICKUP_CHANGED;	/* gone, or not a file now */
		goto out;
	}
	if (fstat(fd, &st) < 0 || !drop_same(&snap, &st)) {
		rc = PICKUP_CHANGED;
		goto out;
	}
	if (drop_writer_open(fd) == 1) {
		msg_info("pickup %s: still open for writing; waiting for its close", path);
		rc = PICKUP_WRITING;
		goto out;
	}
	r.path = path;
	r.name = name;
	strv_add(&r.dests, dest);
	r.sclass = c ? c->name : DEFAULT_CLASS;
	r.expires = time(NULL) + 86400L * (c ? c->expiration_days : S->cf->expiration_days);
	r.expect = &snap;
	r.fd = fd;
	rc = submit_file(S->cf, S->keys, &r, &ids, &tempfail);
	/* still the file we sealed under that name (not a newer one renamed over it)? */
	if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0 || st.st_ino != snap.st_ino ||
	    st.st_dev != snap.st_dev)
		st.st_ino = 0;
	if (rc == 0) {
		if (st.st_ino == 0)
			msg_info("pickup %s: replaced while it was sealed; the new file waits for "
				 "its own pickup", path);
		else if (unlinkat(dfd, name, 0) < 0 || fsync(dfd) < 0)
			msg_warn("pickup %s: queued, but cannot remove it", path);
		for (int i = 0; i < ids.n; i++)
			msg_info("order %s: picked up %s for %s (%lld bytes)", ids.v[i], path, dest,
				 (long long)snap.st_size);
	} else if (tempfail == SUBMIT_CHANGED) {
		msg_info("pickup %s: %s; waiting until it is quiet again", path, err_get());
		rc = PICKUP_CHANGED;
	} else if (tempfail) {
		msg_warnx("pickup %s: %s; will retry", path, err_get());
		rc = 75;
	} else {
		/* permanent: keep the operator's file where they can see why */
		snprintf(why, sizeof(why), "drop/%s/%s: %s", dest, name, err_get());
		snprintf(label, sizeof(label), "drop.%s.%s", dest, name);
		if (st.st_ino != 0 && drop_set_aside(bay, dfd, name, label, why, as, sizeof(as)) == 0)
			msg_warnx("pickup %s: refused: %s; moved to corrupt/%s", path, why, as);
		else
			msg_warnx("pickup %s: refused: %s", path, why);
		rc = 65;
	}
out:
	if (fd >= 0)
		close(fd);
	if (dfd >= 0)
		close(dfd);
	strv_free(&ids);
	strv_free(&r.dests);
	return rc;
}
