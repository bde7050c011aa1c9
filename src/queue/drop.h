/*
 * drop.h - when a file dropped into BAY/drop/DEST/ is complete, and what
 * becomes of anything else put into drop/.
 *
 * The contract (shipping.conf(5), shipctl(1)): write the file elsewhere,
 * or under a temporary name (bay_drop_is_temp_name), and rename it into
 * drop/DEST/: it is complete, and taken, at once. A file written in place
 * is taken only once its writer closed it (IN_CLOSE_WRITE) and it then
 * stayed the same - inode, size, mtime, ctime - for DROP-QUIET-TIME; one
 * found with no event (at start-up, after lost events) once it has not
 * changed for that long. The pickup checks the file again, against what
 * was judged complete, before sealing and after sealing, and throws the
 * sealed result away when it moved (submit.h's expect).
 *
 * Anything else - a symbolic link, FIFO, device, socket or directory in
 * drop/DEST/, anything but a real directory directly in drop/ - is never
 * followed or opened: it is moved to corrupt/ with ID.why saying what it
 * was, logged once.
 *
 * Offers: the table of what the master saw of each drop (explicit state),
 * the verdict on one entry (drop_judge, pure: module-tested), the scan of
 * a bay's drop tree and of one entry (drop_scan, drop_look), and the move
 * aside (drop_set_aside). Never opens a dropped file for its content,
 * never follows a link, never blocks on a FIFO.
 */
#ifndef SHIPD_DROP_H
#define SHIPD_DROP_H

#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>

/* A name in drop/DEST/ an editor or copier is still writing under: a
 * dotfile, #name, name~, *.tmp, *.part, *.swp. Never taken, never moved. */
int bay_drop_is_temp_name(const char *name);

/* What happened to an entry, as far as the master knows. */
enum drop_event {
	DROP_SEEN,		/* found by a scan, no event known */
	DROP_CREATED,		/* IN_CREATE: made in place, or linked in */
	DROP_CLOSED,		/* IN_CLOSE_WRITE: a writer closed it */
	DROP_RENAMED,		/* IN_MOVED_TO: renamed in, complete */
	DROP_CHANGED,		/* the pickup found it changed: quiet again */
	DROP_WRITING		/* the pickup found it open for writing */
};

enum drop_verdict {
	DROP_TAKE,		/* complete: pick it up now */
	DROP_WAIT,		/* not yet: look again at *when (0: at its next event) */
	DROP_ASIDE		/* not a regular file: never shipped, moved aside */
};

struct drop_table;
struct drop_table *drop_table_new(void);
void drop_table_free(struct drop_table *t);

/*
 * The verdict on path, whose lstat is st, after event ev at time now with
 * a quiet period of quiet seconds; remembers what it needs in t. A TAKE
 * records st as what was judged complete (drop_taken).
 */
enum drop_verdict drop_judge(struct drop_table *t, const char *path, const struct stat *st,
			     enum drop_event ev, time_t now, int quiet, time_t *when);
/* What path was last judged complete as: 0, or -1 when never. */
int drop_taken(const struct drop_table *t, const char *path, struct stat *st);
/* path was judged complete as st elsewhere (a pickup worker that lives
 * on is told so by its master, shipd/pool.c). */
void drop_set_taken(struct drop_table *t, const char *path, const struct stat *st);
/* A pickup of path failed for now (bay full): not taken again before until. */
void drop_later(struct drop_table *t, const char *path, time_t until);
/* Events were lost (inotify overflow, a reload): a file waiting for its
 * writer's close is judged by its quiet period alone from now on. */
void drop_events_lost(struct drop_table *t);
/* Remember that path's refusal was logged; 1 if it was already. */
int drop_logged(struct drop_table *t, const char *path);
void drop_forget(struct drop_table *t, const char *path);
size_t drop_count(const struct drop_table *t);

/* The same file, unchanged: device, inode, type, size, mtime and ctime. */
int drop_same(const struct stat *a, const struct stat *b);
/* "symbolic link", "FIFO", "directory", ... for a refusal's reason. */
const char *drop_kind(mode_t mode);
/*
 * Is the open file fd open for writing by any process? 1 yes, 0 no, -1
 * cannot tell (the kernel grants the read lease that asks only to the
 * file's owner or a process with CAP_LEASE, and not on every file system).
 */
int drop_writer_open(int fd);

/* A scan's context: what to do with what is complete, and the earliest
 * time something waiting must be looked at again. */
struct drop_scan {
	struct drop_table *t;
	time_t now;
	int quiet;			/* DROP-QUIET-TIME */
	void (*take)(void *arg, const char *bay, const char *path);
	void *arg;
	time_t next;			/* out: earliest look again, 0 none */
};

/* Judge every entry of BAY/drop/ and BAY/drop/DEST/; forget entries gone. */
void drop_scan(struct drop_scan *s, const char *bay);
/* Judge one entry NAME of DIR (BAY/drop/DEST) after event ev. */
void drop_look(struct drop_scan *s, const char *bay, const char *dir, const char *name,
	       enum drop_event ev);

/*
 * Move entry name of directory dirfd (never followed, whatever it is) to
 * BAY/corrupt/ under label made a valid order id (other characters become
 * '_'; a name already there gets .1, .2, ...), never replacing anything,
 * and write ID.why with why; both directories fsynced. The id is copied
 * to as. -1 with err_set() when it cannot be moved.
 */
int drop_set_aside(const char *bay, int dirfd, const char *name, const char *label,
		   const char *why, char *as, size_t assize);

#endif
