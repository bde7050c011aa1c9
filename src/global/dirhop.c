/*
 * dirhop.c - the writing half of a directory hop (dirhop.h): the sender
 * pool and `shipctl export` put a packet and its signed envelope on the
 * medium, crash-safe and within the medium's size limit; custody records
 * in the order. Reads the bay's data/ID; never changes a bay (the caller
 * commits the order through commit.h) and never touches the network.
 */
#include "dirhop.h"
#include "envelope.h"
#include "../crypto/crypto.h"
#include "../queue/bay.h"
#include "../util/log.h"
#include "../util/mem.h"
#include "../util/safefile.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

char *
dirhop_hop_order_text(const struct order *o, const struct strv *dests)
{
	struct order h = *o;
	struct strv none = {0};

	h.dests = *dests;
	h.delivered = none;
	h.exported = none;
	h.attempts = 0;
	h.last_error = NULL;
	h.next_attempt = 0;
	h.source = NULL;
	h.submitter = NULL;
	h.keep_data = 0;
	h.name = NULL;
	h.comment = NULL;
	return order_format(&h, NULL);
}

void
dirhop_sweep_tmp(const char *dir)
{
	struct dirent *d;
	struct stat st;
	time_t now = time(NULL);
	int n = 0;
	DIR *dp;

	if ((dp = opendir(dir)) == NULL)
		return;
	while ((d = readdir(dp)) != NULL)
		if (strncmp(d->d_name, ".tmp.", 5) == 0 &&
		    fstatat(dirfd(dp), d->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
		    S_ISREG(st.st_mode) && now - st.st_mtime >= DIRHOP_TMP_AGE &&
		    unlinkat(dirfd(dp), d->d_name, 0) == 0)
			n++;
	closedir(dp);
	if (n) {
		msg_info("directory %s: removed %d temporar%s left by a writer that crashed", dir, n,
			 n == 1 ? "y" : "ies");
		fsync_dir(dir);
	}
}

/* Bytes the regular files directly in dir take (what the limit bounds). */
static int
dir_usage(const char *dir, uint64_t *used)
{
	struct dirent *d;
	struct stat st;
	DIR *dp;

	*used = 0;
	if ((dp = opendir(dir)) == NULL)
		return -1;
	while ((d = readdir(dp)) != NULL)
		if (fstatat(dirfd(dp), d->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
		    S_ISREG(st.st_mode))
			*used += (uint64_t)st.st_blocks * 512 > (uint64_t)st.st_size ?
				(uint64_t)st.st_blocks * 512 : (uint64_t)st.st_size;
	closedir(dp);
	return 0;
}

/* Is ID.env in dir there already, for the same packet bytes? (Only a
 * shortcut: what the next hop imports is checked there in full.) */
static int
already_there(const char *dir, const char *id, const char *sha)
{
	char path[PATH_MAX], *buf;
	size_t len;
	int same;

	if (snprintf(path, sizeof(path), "%s/%s%s", dir, id, DIRHOP_ENV) >= (int)sizeof(path) ||
	    (buf = read_file(path, DIRHOP_ENV_MAX, &len)) == NULL)
		return 0;
	same = strstr(buf, sha) != NULL;
	free(buf);
	return same;
}

/* Copy fd into a new temporary in dir, hashing; committed as dir/name. */
static int
copy_packet(int fd, const char *dir, const char *name, uint64_t size, char sha[65])
{
	static uint8_t buf[256 * 1024];
	struct hash *h = hash_new_sha256();
	uint8_t dg[SHA256_LEN];
	char tmp[PATH_MAX];
	uint64_t done = 0;
	int out;

	if ((out = safe_create(dir, tmp, sizeof(tmp), 0644)) < 0) {
		hash_final(h, dg);
		return -1;
	}
	while (done < size) {
		size_t want = size - done < sizeof(buf) ? size - done : sizeof(buf);
		ssize_t n = read_full(fd, buf, want);

		if (n <= 0) {
			err_set("read: %s", n < 0 ? strerror(errno) : "short packet file");
			goto fail;
		}
		hash_update(h, buf, n);
		if (write_all(out, buf, n) < 0) {
			err_set("%s: %s", dir, strerror(errno));
			goto fail;
		}
		done += n;
	}
	hash_final(h, dg);
	hex_encode(dg, sizeof(dg), sha);
	return safe_commit(out, tmp, dir, name);
fail:
	hash_final(h, dg);
	safe_abort(out, tmp);
	return -1;
}

static int
file_sha256(int fd, uint64_t size, char sha[65])
{
	static uint8_t buf[256 * 1024];
	struct hash *h = hash_new_sha256();
	uint8_t dg[SHA256_LEN];
	uint64_t done = 0;

	while (done < size) {
		ssize_t n = read_full(fd, buf, size - done < sizeof(buf) ? size - done : sizeof(buf));

		if (n <= 0) {
			hash_final(h, dg);
			return -1;
		}
		hash_update(h, buf, n);
		done += n;
	}
	hash_final(h, dg);
	hex_encode(dg, sizeof(dg), sha);
	return 0;
}

int
dirhop_export(const struct config *cf, const struct keys *me, const char *bay,
	      const struct order *o, const struct strv *dests, const char *to,
	      const char *dir, uint64_t limit, char **why)
{
	char data[PATH_MAX], pkt[NAME_MAX + 1], env[NAME_MAX + 1], sha[65];
	struct envelope e;
	struct statvfs vfs;
	struct stat st, dst;
	uint64_t used, need;
	char *text;
	size_t tlen;
	int fd = -1, rc = -1;

	*why = NULL;
	memset(&e, 0, sizeof(e));
	if (stat(dir, &dst) < 0 || !S_ISDIR(dst.st_mode)) {
		int err = errno;

		*why = xasprintf("directory %s for %s: %s (medium not mounted?)", dir, to,
				 access(dir, F_OK) == 0 ? "not a directory" : strerror(err));
		return -1;
	}
	if (bay_data_path(data, sizeof(data), bay, o->id) < 0 ||
	    (fd = open(data, O_RDONLY | O_CLOEXEC)) < 0 || fstat(fd, &st) < 0) {
		*why = xasprintf("packet data %s: %s", data, strerror(errno));
		goto out;
	}
	snprintf(pkt, sizeof(pkt), "%s%s", o->id, DIRHOP_PKT);
	snprintf(env, sizeof(env), "%s%s", o->id, DIRHOP_ENV);
	if (file_sha256(fd, st.st_size, sha) < 0 || lseek(fd, 0, SEEK_SET) < 0) {
		*why = xasprintf("packet data %s: read: %s", data, strerror(errno));
		goto out;
	}
	if (already_there(dir, o->id, sha)) {
		rc = 0;
		goto out;
	}
	dirhop_sweep_tmp(dir);
	/* the limit: what the medium holds plus this packet and its envelope */
	need = st.st_size + DIRHOP_ENV_MAX / 64;
	if (dir_usage(dir, &used) < 0) {
		*why = xasprintf("directory %s: %s", dir, strerror(errno));
		goto out;
	}
	if (limit && need > limit) {
		*why = xasprintf("medium full: the packet needs %" PRIu64 " bytes, more than the limit "
				 "%" PRIu64 " of %s allows even when empty (raise the PEER line's limit)",
				 need, limit, dir);
		goto out;
	}
	if (limit && used + need > limit) {
		*why = xasprintf("medium full: %s holds %" PRIu64 " bytes, the packet needs %" PRIu64
				 " more, the limit is %" PRIu64 " (waiting for the medium to be "
				 "emptied)", dir, used, need, limit);
		goto out;
	}
	if (statvfs(dir, &vfs) == 0 && (uint64_t)vfs.f_bavail * vfs.f_frsize < need) {
		*why = xasprintf("medium full: %s has %" PRIu64 " bytes free, the packet needs %"
				 PRIu64 " (waiting for space)", dir,
				 (uint64_t)vfs.f_bavail * vfs.f_frsize, need);
		goto out;
	}
	/* the packet first, then the envelope that names it */
	if (copy_packet(fd, dir, pkt, st.st_size, sha) < 0) {
		*why = xasprintf("writing %s/%s: %s%s", dir, pkt,
				 errno == ENOSPC || errno == EDQUOT ? "medium full: " : "", err_get());
		goto out;
	}
	snprintf(e.kind, sizeof(e.kind), "%s", ENV_PACKET);
	snprintf(e.from, sizeof(e.from), "%s", cf->node);
	snprintf(e.to, sizeof(e.to), "%s", to);
	snprintf(e.id, sizeof(e.id), "%s", o->id);
	e.created = time(NULL);
	e.size = st.st_size;
	memcpy(e.sha256, sha, sizeof(sha));
	e.order = dirhop_hop_order_text(o, dests);
	if ((text = envelope_format(&e, me, &tlen)) == NULL) {
		*why = xasprintf("signing the envelope of %s: %s", o->id, err_get());
		goto out;
	}
	if (safe_write(dir, env, text, tlen, 0644) < 0) {
		*why = xasprintf("writing %s/%s: %s", dir, env, err_get());
		free(text);
		goto out;
	}
	free(text);
	rc = 0;
out:
	envelope_free(&e);
	if (fd >= 0)
		close(fd);
	return rc;
}

void
dirhop_mark_exported(struct order *o, const struct strv *dests, const char *to, time_t now)
{
	for (int i = 0; i < dests->n; i++) {
		const char *old = order_exported(o, dests->v[i]);
		char *line = xasprintf("%s %s %lld", dests->v[i], to, (long long)now);

		if (old) {
			char *copy = xstrdup(old);

			strv_remove(&o->exported, copy);
			free(copy);
		}
		strv_add(&o->exported, line);
		free(line);
	}
}

int
dirhop_all_exported(const struct order *o)
{
	for (int i = 0; i < o->dests.n; i++)
		if (order_exported(o, o->dests.v[i]) == NULL)
			return 0;
	return o->dests.n > 0;
}
