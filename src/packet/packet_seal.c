/*
 * packet_seal.c - seal a file: a pax archive of it, compressed with zstd
 * by libarchive, written through archive_write_open2() callbacks straight
 * into the sealer. No plaintext ever touches the disk.
 *
 * Whether to compress is decided per file: a few 64 KiB slices from the
 * start, middle and end are compressed first with the same settings, and
 * a file whose sample shrinks by less than 3% is archived without zstd
 * (zstd spends about 0.4 ms per MiB failing to shrink random data, more
 * than ChaCha20-Poly1305 costs). Files under 1 MiB are always compressed.
 * The reader accepts both (the zstd magic tells them apart).
 *
 * A small file's archive (up to ONESHOT_MAX) is compressed in one call,
 * its size known, instead of through libarchive's zstd stream: a level-3
 * stream of unknown size zeroes ~770 KiB of match tables (200 page
 * faults, ~2 ms of a 4 KiB `shipctl submit`) and its frame asks every
 * receiver for a 2 MiB window; sized to the input, zstd uses a few pages
 * and the frame says its content size. The same zstd frame format: every
 * reader takes both.
 *
 * Sealing while sending (pkt_extra.early): a file stored without zstd of
 * at least PKT_EARLY_MIN bytes has an archive whose length is known
 * before a byte of it is written: the entry's headers and the archive's
 * end (measured by writing the same entry without content into a
 * counter, with the same options), plus the content padded to 512 bytes. The sealer
 * is told that length, writes the signed header first and the caller
 * hears of the growing file (pkt_sealer_early). Should the archive come
 * out another length (the prediction is checked, never trusted), the
 * seal fails and the file is sealed again the ordinary way.
 *
 * Offers packet_seal (packet.h) and packet_seal_archive_stream
 * (packet_int.h: the same path with the archive's content supplied by the
 * caller). Never stores the owner, group or any other metadata of the
 * source beyond its base name, permission bits (& 0777) and mtime.
 */
#include "packet_int.h"
#include "../util/clock.h"
#include "../util/log.h"
#include "../util/mem.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

#define READ_BLOCK	(256 * 1024)
#define ONESHOT_MAX	(256 * 1024)	/* files up to this: archive compressed in one call */

#define SAMPLE_MIN	(1024 * 1024)	/* smaller files are always compressed */
#define SAMPLE_SLICE	(64 * 1024)
#define SAMPLE_SLICES	4
#define SAMPLE_SAVE	3		/* compress when the sample shrinks >= 3% */

#define ZSTD_LEVEL	3
#define STR_(x)		#x
#define STR(x)		STR_(x)
const char *pkt_zstd_options = "zstd:compression-level=" STR(ZSTD_LEVEL);
int pkt_zstd_always;

struct wctx {
	struct pkt_sealer *s;
	struct sbuf *raw;	/* or NULL: the archive held here, compressed at the end */
	char err[512];
};

static la_ssize_t
write_cb(struct archive *a, void *arg, const void *buf, size_t n)
{
	struct wctx *w = arg;

	if (w->raw) {
		sbuf_add(w->raw, buf, n);
		return (la_ssize_t)n;
	}
	if (pkt_sealer_write(w->s, buf, n) < 0) {
		if (w->err[0] == 0)
			snprintf(w->err, sizeof(w->err), "%s", err_get());
		archive_set_error(a, EIO, "%s", w->err);
		return -1;
	}
	return (la_ssize_t)n;
}

/*
 * The whole archive, compressed in one call, into the sealer. The context
 * is kept, one per thread, for the life of the process: a process that
 * seals file after file (shipctl submit with many files, pickup) would
 * otherwise get and zero fresh pages for its tables on every file.
 */
static int
seal_oneshot(struct pkt_sealer *s, const struct sbuf *raw, const char *group)
{
	static _Thread_local ZSTD_CCtx *cctx;
	size_t cap = ZSTD_compressBound(raw->len), n;
	void *out;
	int rc = -1;

	if (cctx == NULL && (cctx = ZSTD_createCCtx()) == NULL) {
		err_set("packet %s: zstd: out of memory", group);
		return -1;
	}
	out = xmalloc(cap);
	n = ZSTD_compressCCtx(cctx, out, cap, raw->s, raw->len, ZSTD_LEVEL);
	if (ZSTD_isError(n))
		err_set("packet %s: zstd: %s", group, ZSTD_getErrorName(n));
	else
		rc = pkt_sealer_write(s, out, n);
	free(out);
	return rc;
}

/*
 * The archive writer into the sealer; plain: no zstd filter. size: the
 * content's size when known (else -1): up to ONESHOT_MAX, the archive is
 * compressed in one call at the end rather than streamed through zstd.
 */
static int
seal_stream(const struct config *cf, const struct keys *me, const struct pkt_seal_params *sp,
	    int plain, off_t size, pkt_produce_fn produce, void *parg, packet_part_fn fn,
	    void *arg, uint64_t plen, packet_part_fn early)
{
	struct wctx w = {0};
	struct sbuf raw = {0};
	struct archive *a = NULL;
	int rc = -1;

	if ((w.s = pkt_sealer_new(cf, me, sp)) == NULL)
		return -1;
	if (early && pkt_sealer_early(w.s, plen, early, arg) < 0)
		goto out;
	if (!plain && size >= 0 && size <= ONESHOT_MAX)
		w.raw = &raw;
	a = archive_write_new();
	if (a == NULL ||
	    (!plain && !w.raw && (archive_write_add_filter_zstd(a) != ARCHIVE_OK ||
			    archive_write_set_options(a, pkt_zstd_options) != ARCHIVE_OK)) ||
	    archive_write_set_format_pax_restricted(a) != ARCHIVE_OK ||
	    archive_write_set_options(a, "hdrcharset=BINARY") != ARCHIVE_OK ||
	    archive_write_set_bytes_per_block(a, 0) != ARCHIVE_OK ||
	    archive_write_open2(a, &w, NULL, write_cb, NULL, NULL) != ARCHIVE_OK) {
		err_set("packet %s: libarchive: %s", sp->group,
			a ? archive_error_string(a) : "out of memory");
		goto out;
	}
	if (produce(a, parg) < 0)
		goto out;
	if (archive_write_close(a) != ARCHIVE_OK) {
		if (w.err[0])
			err_set("%s", w.err);
		else
			err_set("packet %s: libarchive: %s", sp->group, archive_error_string(a));
		goto out;
	}
	if (w.raw && seal_oneshot(w.s, w.raw, sp->group) < 0)
		goto out;
	rc = pkt_sealer_finish(w.s, fn, arg);
	if (rc < 0 && pkt_sealer_mispredicted(w.s))
		rc = -2;
out:
	if (a) {
		if (rc < 0)
			archive_write_fail(a);	/* no flushing into a failed sealer */
		archive_write_free(a);
	}
	pkt_sealer_free(w.s);
	sbuf_free(&raw);
	return rc;
}

int
packet_seal_archive_stream(const struct config *cf, const struct keys *me,
			   const struct pkt_seal_params *sp, pkt_produce_fn produce, void *parg,
			   packet_part_fn fn, void *arg)
{
	return seal_stream(cf, me, sp, 0, -1, produce, parg, fn, arg, 0, NULL);
}

struct src {
	const char *group, *path, *name;
	int fd;
	struct stat st;
	const char *comment;		/* or NULL: an extended attribute of the entry */
};

/* The archive entry of the one regular file. */
static struct archive_entry *
file_entry(const struct src *f)
{
	struct archive_entry *e = archive_entry_new();

	archive_entry_copy_pathname(e, f->name);
	archive_entry_set_filetype(e, AE_IFREG);
	archive_entry_set_perm(e, f->st.st_mode & 0777);
	archive_entry_set_size(e, f->st.st_size);
	archive_entry_set_mtime(e, f->st.st_mtim.tv_sec, f->st.st_mtim.tv_nsec);
	if (f->comment)
		archive_entry_xattr_add_entry(e, PKT_COMMENT_XATTR, f->comment, strlen(f->comment));
	return e;
}

/* Add the one regular file. */
static int
produce_file(struct archive *a, void *arg)
{
	struct src *f = arg;
	struct archive_entry *e = file_entry(f);
	char *buf = NULL;
	off_t done = 0;
	size_t bsize;
	ssize_t n;
	double t0;
	int rc = -1;

	if (archive_write_header(a, e) < ARCHIVE_WARN) {
		err_set("packet %s: archive header for %s: %s", f->group, f->path,
			archive_error_string(a));
		goto out;
	}
	t0 = now_mono();
	bsize = f->st.st_size < READ_BLOCK ? (size_t)f->st.st_size + 1 : READ_BLOCK;
	buf = xmalloc(bsize);		/* + 1: room for the read that must find the end */
	while (done < f->st.st_size) {
		size_t left = f->st.st_size - done, want = left < bsize ? left : bsize;

		if ((n = read(f->fd, buf, want)) < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			err_set("packet %s: read %s: %s", f->group, f->path, strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		if (archive_write_data(a, buf, n) != n) {
			err_set("packet %s: %s", f->group, archive_error_string(a));
			goto out;
		}
		done += n;
		clock_throttle("SHIPD_TEST_SEAL_RATE", done, t0);	/* tests only */
	}
	if (done != f->st.st_size || read(f->fd, buf, 1) != 0) {
		err_set("packet %s: %s changed size while it was being sealed", f->group, f->path);
		goto out;
	}
	rc = 0;
out:
	free(buf);
	archive_entry_free(e);
	return rc;
}

static la_ssize_t
count_cb(struct archive *a, void *arg, const void *buf, size_t n)
{
	*(uint64_t *)arg += n;
	return (la_ssize_t)n;
}

/*
 * The length of f's plain archive (seal_stream's, without zstd): its
 * headers and the archive's end as libarchive writes them (measured on
 * the same entry with no content, which ustar headers do not tell apart
 * below 8 GiB), plus the content up to a multiple of 512. 0 when it
 * cannot be measured (or is 8 GiB or more: the size then goes into a pax
 * header). Checked after sealing: a wrong guess costs a second seal.
 */
static uint64_t
plain_archive_len(const struct src *f)
{
	struct archive *a;
	struct archive_entry *e;
	uint64_t frame = 0, len = 0;

	if ((uint64_t)f->st.st_size >= 077777777777ULL || (a = archive_write_new()) == NULL)
		return 0;
	e = file_entry(f);
	archive_entry_set_size(e, 0);
	if (archive_write_set_format_pax_restricted(a) == ARCHIVE_OK &&
	    archive_write_set_options(a, "hdrcharset=BINARY") == ARCHIVE_OK &&
	    archive_write_set_bytes_per_block(a, 0) == ARCHIVE_OK &&
	    archive_write_open2(a, &frame, NULL, count_cb, NULL, NULL) == ARCHIVE_OK &&
	    archive_write_header(a, e) >= ARCHIVE_WARN && archive_write_close(a) == ARCHIVE_OK &&
	    frame > 0)
		len = frame + ((uint64_t)f->st.st_size + 511) / 512 * 512;
	archive_write_free(a);
	archive_entry_free(e);
	return len;
}

/*
 * Is f worth compressing? Compress a few slices spread over the file
 * (start, middle, end) with the zstd settings sealing would use and see
 * whether they shrink by SAMPLE_SAVE% or more. Small files, and any
 * doubt (a read or libarchive error), say yes: compressing is never wrong,
 * only slow. Costs about 0.1 ms, against about 0.4 ms per MiB that zstd
 * spends failing to shrink incompressible data.
 */
static int
worth_compressing(const struct src *f)
{
	struct archive *a;
	struct archive_entry *e = NULL;
	uint8_t *buf;
	uint64_t out = 0, in = 0;
	int yes = 1;

	if (f->st.st_size < SAMPLE_MIN || pkt_zstd_always)
		return 1;
	if ((a = archive_write_new()) == NULL)
		return 1;
	buf = xmalloc(SAMPLE_SLICE);
	e = archive_entry_new();
	archive_entry_copy_pathname(e, "sample");
	archive_entry_set_filetype(e, AE_IFREG);
	archive_entry_set_perm(e, 0600);
	if (archive_write_add_filter_zstd(a) != ARCHIVE_OK ||
	    archive_write_set_options(a, pkt_zstd_options) != ARCHIVE_OK ||
	    archive_write_set_format_raw(a) != ARCHIVE_OK ||
	    archive_write_set_bytes_per_block(a, 0) != ARCHIVE_OK ||
	    archive_write_open2(a, &out, NULL, count_cb, NULL, NULL) != ARCHIVE_OK ||
	    archive_write_header(a, e) != ARCHIVE_OK)
		goto out;
	for (int i = 0; i < SAMPLE_SLICES; i++) {
		off_t at = (f->st.st_size - SAMPLE_SLICE) / (SAMPLE_SLICES - 1) * i;
		ssize_t n = pread(f->fd, buf, SAMPLE_SLICE, at);

		if (n <= 0 || archive_write_data(a, buf, n) != n)
			goto out;
		in += n;
	}
	if (archive_write_close(a) != ARCHIVE_OK)
		goto out;
	yes = out * 100 <= in * (100 - SAMPLE_SAVE);
out:
	archive_write_free(a);
	archive_entry_free(e);
	free(buf);
	return yes;
}

int
packet_seal(const struct config *cf, const struct keys *me, const char *origin,
	    const char *src, const char *name, const struct strv *dests,
	    const char *sclass, const char *group, time_t created, time_t expires,
	    uint64_t max_part, const char *tmpdir, packet_part_fn fn, void *arg)
{
	return packet_seal_extra(cf, me, origin, src, name, dests, sclass, group, created,
				 expires, max_part, tmpdir, NULL, fn, arg);
}

int
packet_seal_extra(const struct config *cf, const struct keys *me, const char *origin,
		  const char *src, const char *name, const struct strv *dests,
		  const char *sclass, const char *group, time_t created, time_t expires,
		  uint64_t max_part, const char *tmpdir, const struct pkt_extra *x,
		  packet_part_fn fn, void *arg)
{
	struct pkt_seal_params sp = { origin, sclass, group, dests, created, expires,
				      max_part, tmpdir, x ? x->notify : NULL,
				      x ? x->kind : NULL };
	struct src f = { group ? group : "(null)", src, name, -1, {0}, x ? x->comment : NULL };
	const char *why;
	uint64_t plen;
	int rc, plain;

	if (f.comment && strlen(f.comment) > PKT_COMMENT_MAX) {
		err_set("packet %s: comment longer than %d bytes", f.group, PKT_COMMENT_MAX);
		return -1;
	}
	if (name == NULL || (why = pkt_entry_name_bad(name)) != NULL) {
		err_set("packet %s: cannot ship under the name \"%.64s\": %s", f.group,
			name ? name : "", name ? why : "no name");
		return -1;
	}
	if (x && x->use_fd)
		f.fd = fcntl(x->fd, F_DUPFD_CLOEXEC, 0);
	else
		f.fd = open(src, O_RDONLY | O_CLOEXEC);
	if (f.fd < 0 || fstat(f.fd, &f.st) < 0 || lseek(f.fd, 0, SEEK_SET) < 0) {
		err_set("packet %s: %s: %s", f.group, src, strerror(errno));
		if (f.fd >= 0)
			close(f.fd);
		return -1;
	}
	if (!S_ISREG(f.st.st_mode)) {
		err_set("packet %s: %s is not a regular file", f.group, src);
		close(f.fd);
		return -1;
	}
	plain = !worth_compressing(&f);
	(void)posix_fadvise(f.fd, 0, 0, POSIX_FADV_SEQUENTIAL);
	if (x && x->early && plain && f.st.st_size >= PKT_EARLY_MIN &&
	    (plen = plain_archive_len(&f)) > 0) {
		rc = seal_stream(cf, me, &sp, plain, f.st.st_size, produce_file, &f, fn, arg,
				 plen, x->early);
		if (rc != -2)
			goto out;
		msg_warnx("%s; sealing it again the ordinary way", err_get());
		if (lseek(f.fd, 0, SEEK_SET) < 0) {
			err_set("packet %s: %s: %s", f.group, src, strerror(errno));
			rc = -1;
			goto out;
		}
	}
	rc = seal_stream(cf, me, &sp, plain, f.st.st_size, produce_file, &f, fn, arg, 0, NULL);
out:
	close(f.fd);
	return rc < 0 ? -1 : rc;
}
