/*
 * packet_open.c - open a logical packet addressed to us: the reader's
 * plaintext goes through archive_read_open() callbacks into libarchive
 * (a pax archive, zstd-compressed or not, and nothing else), and the
 * archive's single regular file is extracted into destdir.
 *
 * Offers packet_open, packet_open_extra, packet_open_known,
 * packet_open_stream (packet.h) and
 * pkt_entry_name_bad (packet_int.h). The origin's comment comes out of the entry's extended
 * attributes; no attribute is ever applied to the extracted file.
 * Every part is read once (packet_reader.c): its header signature is
 * checked first, then only bytes that passed their chunk's AEAD tag under
 * the packet key (which only the origin and the recipients hold) reach the
 * decompressor, and the origin's trailer signature over every part (or
 * the packet digest this node recorded when it verified the part on the
 * way in: packet_open_known) is checked before packet_open returns success; until then what it wrote
 * is not kept (removed on any failure).
 * Never follows or creates a link, never creates anything but one regular
 * file per entry directly inside destdir (openat, O_EXCL | O_NOFOLLOW),
 * never sets setuid, setgid or sticky bits, never overwrites. On failure
 * what it created is removed again, and the value says whose fault it was:
 * -1 the packet's, PKT_LOCAL ours (our disk full, an I/O error).
 */
#include "packet_int.h"
#include "../util/bgwrite.h"
#include "../util/log.h"
#include "../util/mem.h"
#include "../util/safefile.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define DATA_BLOCK	(256 * 1024)

const char *
pkt_entry_name_bad(const char *name)
{
	if (name[0] == 0)
		return "empty name";
	if (name[0] == '/')
		return "absolute path";
	if (strcmp(name, "..") == 0 || strncmp(name, "../", 3) == 0 || strstr(name, "/../") ||
	    (strlen(name) >= 3 && strcmp(name + strlen(name) - 3, "/..") == 0))
		return "'..' in path";
	if (strchr(name, '/'))
		return "path with a directory (single files only)";
	if (strcmp(name, ".") == 0)
		return "name \".\"";
	if (strlen(name) > NAME_MAX)
		return "name too long";
	for (const unsigned char *p = (const unsigned char *)name; *p; p++)
		if (*p < 0x20 || *p == 0x7f)
			return "control character in name";
	return NULL;
}

/* Why an entry is refused, or NULL. */
static const char *
entry_bad(struct archive_entry *e, const char *name)
{
	if (archive_entry_hardlink(e) != NULL)
		return "hard link";
	switch (archive_entry_filetype(e)) {
	case AE_IFREG:
		break;
	case AE_IFLNK:
		return "symlink";
	case AE_IFDIR:
		return "directory";
	case AE_IFCHR:
	case AE_IFBLK:
		return "device node";
	case AE_IFIFO:
		return "fifo";
	case AE_IFSOCK:
		return "socket";
	default:
		return "not a regular file";
	}
	if (archive_entry_size_is_set(e) && archive_entry_size(e) < 0)
		return "negative size";
	return pkt_entry_name_bad(name);
}

struct octx {
	struct pkt_reader *r;
	char err[512];
	int local;			/* the failure was ours, not the packet's */
	char *comment;			/* the origin's comment, or NULL */
	int mode;			/* the extracted file's mode; -1: the entry's */
};

/* The origin's comment, an extended attribute of the entry (packet.h);
 * other attributes are never applied. -1 when it is malformed. */
static int
take_comment(struct octx *o, struct archive_entry *e, const char *g)
{
	const char *name;
	const void *val;
	size_t len;

	archive_entry_xattr_reset(e);
	while (archive_entry_xattr_next(e, &name, &val, &len) == ARCHIVE_OK) {
		if (name == NULL || strcmp(name, PKT_COMMENT_XATTR) != 0)
			continue;
		/* pax carries it twice (LIBARCHIVE.xattr and SCHILY.xattr): the same */
		if (o->comment && strlen(o->comment) == len && memcmp(o->comment, val, len) == 0)
			continue;
		if (o->comment || len > PKT_COMMENT_MAX || memchr(val, 0, len)) {
			err_set("packet %s: bad comment (two different ones, a NUL byte or over %d "
				"bytes)", g, PKT_COMMENT_MAX);
			return -1;
		}
		o->comment = xstrndup(val, len);
	}
	return 0;
}

/* Note whether errno e (of a call on our own files) is our side's failure. */
static void
sys_err(struct octx *o, int e)
{
	if (pkt_errno_local(e))
		o->local = 1;
}

static la_ssize_t
read_cb(struct archive *a, void *arg, const void **buf)
{
	struct octx *o = arg;
	ssize_t n = pkt_reader_next(o->r, buf);

	if (n < 0) {
		if (o->err[0] == 0)
			snprintf(o->err, sizeof(o->err), "%s", err_get());
		if (pkt_reader_local(o->r))
			o->local = 1;
		archive_set_error(a, EIO, "%s", o->err);
		return -1;
	}
	return n;
}

/* The reader's error if it had one, else libarchive's. */
static void
arc_err(const struct octx *o, struct archive *a, const char *what)
{
	if (o->err[0])
		err_set("%s", o->err);
	else
		err_set("packet %s: %s: %s", pkt_reader_group(o->r), what,
			archive_error_string(a) ? archive_error_string(a) : "unknown error");
}

/*
 * What a hole in a sparse entry is written as. Never written to: its pages
 * stay the kernel's shared zero page, so a delivery costs no 256 KiB
 * allocation and clearing (a 4 KiB file paid both before).
 */
static uint8_t zeros[DATA_BLOCK];

/* Write the current entry's data into a new file name in dirfd. */
static int
extract(struct octx *o, struct archive *a, struct archive_entry *e, int dirfd,
	const char *name, const char *destdir)
{
	const char *g = pkt_reader_group(o->r);
	struct timespec ts[2];
	int64_t done = 0;
	struct bgwrite *w = NULL;
	la_int64_t at;
	const void *blk;
	size_t n;
	int fd, r;

	fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0) {
		sys_err(o, errno);
		err_set("packet %s: create %s in %s: %s", g, name, destdir, strerror(errno));
		return -1;
	}
	/* libarchive's own blocks, written by a second thread while the next
	 * are decompressed; a hole (a sparse entry) is written as zeros, as
	 * archive_read_data would */
	w = bgw_new(fd);
	while ((r = archive_read_data_block(a, &blk, &n, &at)) == ARCHIVE_OK) {
		if (at < done) {
			err_set("packet %s: %s: data blocks out of order", g, name);
			goto fail;
		}
		while (done < at) {
			size_t z = at - done < DATA_BLOCK ? at - done : DATA_BLOCK;

			if (bgw_write(w, zeros, z) < 0)
				goto write_fail;
			done += z;
		}
		if (n > 0 && bgw_write(w, blk, n) < 0)
			goto write_fail;
		done += n;
	}
	if (r != ARCHIVE_EOF) {
		arc_err(o, a, name);
		goto fail;
	}
	if (bgw_finish(w) < 0)
		goto write_fail;
	bgw_free(w);
	w = NULL;
	if (archive_entry_size_is_set(e) && done != archive_entry_size(e)) {
		err_set("packet %s: %s: %lld bytes where the archive says %lld", g, name,
			(long long)done, (long long)archive_entry_size(e));
		goto fail;
	}
	ts[0].tv_sec = 0;
	ts[0].tv_nsec = UTIME_OMIT;
	ts[1].tv_sec = archive_entry_mtime(e);
	ts[1].tv_nsec = archive_entry_mtime_nsec(e);
	if (!archive_entry_mtime_is_set(e))
		ts[1].tv_nsec = UTIME_OMIT;
	/* the delivered mode (DELIVER-MODE) now: one fsync covers it */
	if (fchmod(fd, o->mode >= 0 ? (mode_t)o->mode : archive_entry_perm(e) & 0777) < 0 ||
	    futimens(fd, ts) < 0 ||
	    fsync(fd) < 0) {
		sys_err(o, errno);
		err_set("packet %s: %s/%s: %s", g, destdir, name, strerror(errno));
		goto fail;
	}
	if (close(fd) < 0) {
		fd = -1;
		sys_err(o, errno);
		err_set("packet %s: close %s/%s: %s", g, destdir, name, strerror(errno));
		goto fail;
	}
	return 0;
write_fail:
	sys_err(o, errno);
	err_set("packet %s: write %s/%s: %s", g, destdir, name, strerror(errno));
fail:
	bgw_free(w);		/* before the fd it writes goes */
	if (fd >= 0)
		close(fd);
	unlinkat(dirfd, name, 0);
	return -1;
}

static int
extract_all(struct octx *o, struct archive *a, int dirfd, const char *destdir,
	    struct strv *got)
{
	const char *g = pkt_reader_group(o->r), *name, *why;
	struct archive_entry *e;
	int r, rc = -1;

	while ((r = archive_read_next_header(a, &e)) != ARCHIVE_EOF) {
		if (r < ARCHIVE_WARN) {
			arc_err(o, a, "archive");
			goto out;
		}
		if (archive_filter_code(a, 0) != ARCHIVE_FILTER_ZSTD &&
		    archive_filter_code(a, 0) != ARCHIVE_FILTER_NONE) {
			err_set("packet %s: payload is not a pax archive, plain or zstd", g);
			goto out;
		}
		if ((name = archive_entry_pathname(e)) == NULL) {
			err_set("packet %s: archive entry without a usable name", g);
			goto out;
		}
		if ((why = entry_bad(e, name)) != NULL) {
			err_set("packet %s: %s %.200s", g, why, name);
			goto out;
		}
		if (take_comment(o, e, g) < 0)
			goto out;
		if (strv_has(got, name)) {
			err_set("packet %s: duplicate name %.200s", g, name);
			goto out;
		}
		if (got->n > 0) {
			err_set("packet %s: more than one file (%.200s after %.200s)", g, name,
				got->v[0]);
			goto out;
		}
		if (extract(o, a, e, dirfd, name, destdir) < 0)
			goto out;
		strv_add(got, name);
	}
	if (got->n == 0) {
		err_set("packet %s: the archive holds no file", g);
		goto out;
	}
	rc = 0;
out:
	return rc;
}

static int open_with(struct pkt_reader *r, int mode, int dfd, const char *destdir,
		     struct strv *names, char **comment, uint8_t *digest);

int
packet_open(const struct config *cf, const struct keys *me, const char *const *parts,
	    int nparts, const char *destdir, struct strv *names)
{
	return packet_open_extra(cf, me, parts, nparts, destdir, names, NULL);
}

int
packet_open_extra(const struct config *cf, const struct keys *me, const char *const *parts,
		  int nparts, const char *destdir, struct strv *names, char **comment)
{
	return packet_open_known(cf, me, parts, NULL, nparts, -1, destdir, names, comment);
}

int
packet_open_known(const struct config *cf, const struct keys *me, const char *const *parts,
		  const char *const *digests, int nparts, int mode, const char *destdir,
		  struct strv *names, char **comment)
{
	return packet_open_said(cf, me, parts, digests, nparts, mode, destdir, names, comment,
				NULL);
}

int
packet_open_said(const struct config *cf, const struct keys *me, const char *const *parts,
		 const char *const *digests, int nparts, int mode, const char *destdir,
		 struct strv *names, char **comment, struct pkt_said *said)
{
	struct pkt_reader *r = pkt_reader_new_known(cf, me, parts, digests, nparts);

	if (said)
		memset(said, 0, sizeof(*said));
	if (r == NULL)
		return pkt_errno_local(errno) ? PKT_LOCAL : -1;
	if (said) {
		const struct pkt_info *pi = pkt_reader_info(r);

		snprintf(said->kind, sizeof(said->kind), "%s", pi->kind);
		snprintf(said->origin, sizeof(said->origin), "%s", pi->origin);
	}
	return open_with(r, mode, -1, destdir, names, comment, NULL);
}

int
packet_open_stream(const struct config *cf, const struct keys *me, const void *hdr,
		   size_t hdrlen, int fd, const uint8_t *known, int mode, const char *destdir,
		   struct strv *names, char **comment, uint8_t digest[PKT_DIGEST_LEN])
{
	struct pkt_reader *r = pkt_reader_new_stream(cf, me, hdr, hdrlen, fd, known);

	if (r == NULL)
		return pkt_errno_local(errno) ? PKT_LOCAL : -1;
	return open_with(r, mode, -1, destdir, names, comment, digest);
}

int
packet_open_mem(const struct config *cf, const struct keys *me, const void *hdr, size_t hdrlen,
		const void *rest, size_t restlen, const uint8_t *known, int mode, int dfd,
		const char *destdir, struct strv *names, char **comment,
		uint8_t digest[PKT_DIGEST_LEN])
{
	struct pkt_reader *r = pkt_reader_new_mem(cf, me, hdr, hdrlen, rest, restlen, known);

	if (r == NULL)
		return pkt_errno_local(errno) ? PKT_LOCAL : -1;
	return open_with(r, mode, dfd, destdir, names, comment, digest);
}

/* Extract what reader r yields into destdir (dfd when >= 0: its open
 * directory, the caller's); r is freed. */
static int
open_with(struct pkt_reader *r, int mode, int dfd, const char *destdir, struct strv *names,
	  char **comment, uint8_t *digest)
{
	struct octx o = {0};
	struct archive *a = NULL;
	struct strv got = {0};
	const void *p;
	ssize_t n;
	int dirfd = -1, rc = -1;

	o.r = r;
	o.mode = mode;
	if ((dirfd = dfd >= 0 ? dfd : open(destdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
		o.local = 1;		/* our directory */
		err_set("packet %s: %s: %s", pkt_reader_group(o.r), destdir, strerror(errno));
		goto out;
	}
	a = archive_read_new();
	if (a == NULL || archive_read_support_filter_none(a) != ARCHIVE_OK ||
	    archive_read_support_filter_zstd(a) != ARCHIVE_OK ||
	    archive_read_support_format_tar(a) != ARCHIVE_OK) {
		err_set("packet %s: libarchive cannot read tar archives, plain or zstd",
			pkt_reader_group(o.r));
		o.local = 1;
		goto out;
	}
	if (archive_read_open(a, &o, NULL, read_cb, NULL) != ARCHIVE_OK) {
		arc_err(&o, a, "not a tar archive, plain or zstd");
		goto out;
	}
	if (extract_all(&o, a, dirfd, destdir, &got) < 0)
		goto out;
	/* libarchive may stop at the tar end: the stream must still end well,
	 * and 0 (the end) means every part's trailer signature verified */
	while ((n = pkt_reader_next(o.r, &p)) > 0)
		;
	if (n < 0) {
		o.local = pkt_reader_local(o.r);
		goto out;
	}
	if (digest)
		memcpy(digest, pkt_reader_digest(o.r), PKT_DIGEST_LEN);
	for (int i = 0; i < got.n; i++)
		strv_add(names, got.v[i]);
	if (comment) {
		*comment = o.comment;
		o.comment = NULL;
	}
	rc = 0;
out:
	if (rc < 0 && dirfd >= 0)
		for (int i = 0; i < got.n; i++)
			unlinkat(dirfd, got.v[i], 0);
	if (a)
		archive_read_free(a);
	if (dirfd >= 0 && dirfd != dfd)
		close(dirfd);
	strv_free(&got);
	free(o.comment);
	pkt_reader_free(o.r);
	return rc < 0 && o.local ? PKT_LOCAL : rc;
}
