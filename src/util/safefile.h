/*
 * safefile.h - the one way shipd writes a file that must survive a crash:
 * O_EXCL temporary in the same directory, write, fsync, close, rename(2),
 * fsync the directory; any error unlinks the temporary. Also: rename,
 * link and unlink with directory fsync (a state change), and bounded
 * whole-file reads.
 *
 * Every durable step (creating a temporary, fsync of a file or a
 * directory, rename, link, unlink) goes through here and is counted, so
 * that module tests can make the Nth one fail (safe_fault) and check that
 * nothing is lost. These never leave a half-written file under the final
 * name.
 */
#ifndef SHIPD_SAFEFILE_H
#define SHIPD_SAFEFILE_H

#include <stddef.h>
#include <sys/types.h>

/* Write buf to dir/name atomically (replacing any existing file). */
int safe_write(const char *dir, const char *name, const void *buf, size_t len, mode_t mode);
/* The same up to the rename: the file is fsynced, the directory is not
 * (the caller fsyncs it, once for a group, before it reports success). */
int safe_write_nosync(const char *dir, const char *name, const void *buf, size_t len,
		      mode_t mode);
/*
 * The same without any fsync, for a file whose loss in a crash costs
 * nothing but readers must never see half-written (monitoring state): a
 * reader sees the old file or the new one; after a crash either, or none.
 * Never for queue state whose content matters (a seen/ marker's name is
 * what counts: its writer fsyncs the directory). Not a durable step
 * (safe_fault does not count it).
 */
int safe_write_volatile(const char *dir, const char *name, const void *buf, size_t len,
			mode_t mode);
/* The same, keeping dir/name when it exists (a marker written once): 1
 * kept (buf dropped), 0 written, -1 error. No lookup first. */
int safe_write_volatile_keep(const char *dir, const char *name, const void *buf, size_t len,
			     mode_t mode);

/*
 * Streaming variant: safe_create() opens an O_EXCL temporary in dir (name
 * returned in tmp, size tmpsz), the caller writes to the fd, then
 * safe_commit() fsyncs, closes and renames it to dir/name, or safe_abort()
 * closes and unlinks it.
 */
int safe_create(const char *dir, char *tmp, size_t tmpsz, mode_t mode);
int safe_commit(int fd, const char *tmp, const char *dir, const char *name);
void safe_abort(int fd, const char *tmp);
/* safe_commit's first half, for a caller that renames elsewhere: fsync and
 * close fd, or (on any error) close it and unlink tmp. */
int safe_finish(int fd, const char *tmp);

/* rename(2) then fsync the directories of both ends: one durable state change. */
int safe_rename(const char *from, const char *to);
/*
 * The steps alone, for callers that group several changes under one
 * directory fsync (the caller fsyncs before it reports success):
 * rename(2); rename that never replaces (EEXIST); unlink(2); fsync(2) of
 * an open file. On failure errno is kept for the caller (ENOENT, EEXIST).
 */
int safe_rename_nosync(const char *from, const char *to);
int safe_rename_noreplace(const char *from, const char *to);
/* Only over an existing `to` (ENOENT when it is gone): the old file is removed. */
int safe_rename_replace(const char *from, const char *to);
int safe_unlink_nosync(const char *path);
int safe_fsync(int fd, const char *name);
/* unlink(2) then fsync the directory. */
int safe_unlink(const char *path);
/* link(2) then fsync the new name's directory. */
int safe_link(const char *from, const char *to);
int fsync_dir(const char *dir);
/* fsync_dir of a directory already open (fd), dir naming it in errors. */
int fsync_dirfd(int fd, const char *dir);
int fsync_parent(const char *path);

/*
 * Fault injection, for module tests only (nothing else arms it): the nth
 * durable step from now fails with errno err instead of running (its
 * caller sees an ordinary error), or with err SAFE_FAULT_KILL the process
 * kills itself with SIGKILL just before it (a crash at that point).
 * safe_fault(0, 0) disarms; safe_steps() counts the steps taken so far.
 */
#define SAFE_FAULT_KILL	(-1)
void safe_fault(long nth, int err);
long safe_steps(void);
/* Directory fsyncs so far (fsync_dir), for module tests that bound them. */
long safe_dir_fsyncs(void);

/* write/read all of n bytes, retrying on EINTR and short counts. */
int write_all(int fd, const void *buf, size_t n);
/*
 * A large file written in order: once WRITEBACK_CHUNK bytes or more were
 * written since *mark, ask the kernel to start writing them back
 * (sync_file_range, SYNC_FILE_RANGE_WRITE: it does not wait), and move
 * *mark to end. The fsync that commits the file then finds little left
 * dirty, and the page cache does not fill with one file. Advisory only:
 * durability still comes from that fsync; errors are ignored.
 */
#define WRITEBACK_CHUNK	(8 << 20)
void writeback_start(int fd, off_t *mark, off_t end);
ssize_t read_full(int fd, void *buf, size_t n);

/* Read a whole file of at most max bytes into a NUL-terminated buffer. */
char *read_file(const char *path, size_t max, size_t *len);
/* The same; *missing says whether a NULL means path does not exist
 * (ENOENT on open), so "is it there?" costs no access() first. */
char *read_file_if(const char *path, size_t max, size_t *len, int *missing);

/* mkdir -p with mode; ok if it exists. Costs one stat when it exists,
 * one mkdir more when only the last component is missing. */
int mkdirs(const char *path, mode_t mode);

#endif
