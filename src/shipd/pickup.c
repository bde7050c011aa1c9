/*
 * pickup.c - inotify watches that make shipd react at once, and the
 * drop-a-file step.
 *
 * Watched, for every bay: outgoing/ (an order renamed in by shipctl submit,
 * a receiver or a retry), joining/ (a part waiting for siblings), drop/
 * (a new DEST directory) and each drop/DEST/ (a file closed after writing
 * or moved in). IN_Q_OVERFLOW means events were lost: everything is
 * rescanned. Dotfiles and temporary names are ignored.
 *
 * pickup_file() runs in a child: it turns one dropped file into an order
 * with the shared submission step (submit.c), exactly as shipctl submit.
 */
#include "shipd.h"
#include "../global/submit.h"
#include "../util/log.h"
#include "../util/mem.h"
#include "../util/safefile.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <dirent.h>
#include <unistd.h>

enum wkind { W_OUTGOING, W_JOINING, W_DROPROOT, W_DROPDEST, W_IMPORT };

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
	uint32_t mask = kind == W_DROPROOT ? IN_CREATE | IN_MOVED_TO | IN_ONLYDIR
		      : kind == W_DROPDEST ? IN_CLOSE_WRITE | IN_MOVED_TO | IN_ONLYDIR
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

static void
watch_drop_dests(const char *bay, const char *droproot)
{
	char sub[PATH_MAX];
	struct dirent *d;
	DIR *dp = opendir(droproot);

	if (dp == NULL)
		return;
	while ((d = readdir(dp)) != NULL)
		if (d->d_name[0] != '.' &&
		    path_fmt(sub, sizeof(sub), "%s/%s", droproot, d->d_name) == 0)
			add_watch(bay, sub, W_DROPDEST);
	closedir(dp);
}

int
pickup_init(void)
{
	struct strv bays = {0};
	char dir[PATH_MAX];

	if (S->inofd >= 0) {
		/* a reload: start from a clean set of watches on the same fd */
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
		if (bay_path(dir, sizeof(dir), b, Q_DROP, NULL) == 0) {
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
			    bay_drop_is_temp_name(ev->name))
				continue;
			switch (w->kind) {
			case W_OUTGOING:
				qmgr_enqueue(&S->sched, J_SEND, w->bay, ev->name);
				break;
			case W_JOINING:
				qmgr_scan_joining(&S->sched, w->bay);
				break;
			case W_DROPROOT:
				if (path_fmt(path, sizeof(path), "%s/%s", w->dir, ev->name) == 0) {
					add_watch(w->bay, path, W_DROPDEST);
					/* files may have landed before the watch */
					qmgr_scan_drops(&S->sched, w->bay);
				}
				break;
			case W_IMPORT:
				import_event(w->dir);
				break;
			case W_DROPDEST:
				if (path_fmt(path, sizeof(path), "%s/%s", w->dir, ev->name) == 0)
					qmgr_enqueue(&S->sched, J_PICKUP, w->bay, path);
				break;
			default:
				msg_panic("pickup_event: unknown watch kind %d", w->kind);
			}
		}
	}
}

/* In a child: one dropped file -> an order for the directory's DEST. */
int
pickup_file(const char *bay, const char *path)
{
	const struct sclass *c = config_bay_class(S->cf, bay);
	struct submit_req r = {0};
	struct strv ids = {0};
	char dest[NAME_MAX + 1], name[PATH_MAX], why[PATH_MAX + 256];
	const char *slash = strrchr(path, '/'), *prev;
	struct stat st;
	int tempfail = 0, rc;

	if (slash == NULL || lstat(path, &st) < 0 || !S_ISREG(st.st_mode))
		return 0;	/* gone already: another pickup took it */
	for (prev = slash - 1; prev > path && *prev != '/'; prev--)
		;
	snprintf(dest, sizeof(dest), "%.*s", (int)(slash - prev - 1), prev + 1);
	r.path = path;
	r.name = slash + 1;
	strv_add(&r.dests, dest);
	r.sclass = c ? c->name : DEFAULT_CLASS;
	r.expires = time(NULL) + 86400L * (c ? c->expiration_days : S->cf->expiration_days);
	r.copy = 0;
	rc = submit_file(S->cf, S->keys, &r, &ids, &tempfail);
	if (rc == 0) {
		for (int i = 0; i < ids.n; i++)
			msg_info("order %s: picked up %s for %s (%lld bytes)", ids.v[i], path, dest,
				 (long long)st.st_size);
	} else if (tempfail) {
		msg_warnx("pickup %s: %s; will retry", path, err_get());
	} else {
		/* permanent: keep the operator's file where they can see why */
		snprintf(why, sizeof(why), "%s", err_get());
		if (path_fmt(name, NAME_MAX + 1, "drop.%s.%s", dest, slash + 1) == 0 &&
		    bay_corrupt_file(bay, path, name, why) == 0)
			msg_warnx("pickup %s: refused: %s; kept in corrupt/ as %s", path, why, name);
		else
			msg_warnx("pickup %s: refused: %s", path, why);
	}
	strv_free(&ids);
	strv_free(&r.dests);
	return rc == 0 ? 0 : tempfail ? 75 : 65;
}
