/*
 * packet_verify.c - check one whole packet file against its origin's
 * public key: the header's signature, the file's length, and the trailer
 * signature over H(header) || H(body). What relays do before they take
 * custody; what packet_open does before a byte reaches libarchive.
 *
 * Offers packet_verify_file (packet.h) and pkt_verify_fd (packet_int.h).
 * Reads with one fixed buffer; needs no secret; never modifies the file.
 */
#include "packet_int.h"
#include "../util/log.h"
#include "../util/mem.h"
#include "../util/safefile.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define VBUF	(256 * 1024)

static int
check_trailer(const struct config *cf, const struct keys *self, const struct pkt_hdr *h,
	      const uint8_t hd[PKT_DIGEST_LEN], const uint8_t bd[PKT_DIGEST_LEN],
	      const char *tl)
{
	const struct pubkey *k = pkt_origin_key(cf, self, h->info.origin);
	uint8_t sig[ED25519_SIG_LEN + 4], msg[PKT_TRAILER_MSG_MAX];
	char b64[PKT_SIG_B64 + 1], again[PKT_SIG_B64 + 8];
	size_t n, mlen;

	if (memcmp(tl, "trailer: ", 9) != 0 || tl[PKT_TRAILER_LEN - 1] != '\n') {
		err_set("packet %s: malformed trailer", h->info.id);
		return -1;
	}
	memcpy(b64, tl + 9, PKT_SIG_B64);
	b64[PKT_SIG_B64] = 0;
	if (b64_decode(b64, sig, sizeof(sig), &n) < 0 || n != ED25519_SIG_LEN ||
	    b64_encode(sig, n, again, sizeof(again)) == 0 || strcmp(again, b64) != 0) {
		err_set("packet %s: malformed trailer", h->info.id);
		return -1;
	}
	if (k == NULL) {
		err_set("packet %s: unknown origin %s", h->info.id, h->info.origin);
		return -1;
	}
	pkt_trailer_msg(hd, bd, msg, &mlen);
	if (ed25519_verify(k->sign, msg, mlen, sig) < 0) {
		err_set("packet %s: bad trailer signature (body or header altered)", h->info.id);
		return -1;
	}
	return 0;
}

int
pkt_verify_fd(const struct config *cf, const struct keys *self, int fd, const char *path,
	      struct pkt_hdr *h)
{
	uint8_t *buf = xmalloc(VBUF), hd[PKT_DIGEST_LEN], bd[PKT_DIGEST_LEN];
	struct hash *hs = NULL;
	struct stat st;
	uint64_t off, end;
	ssize_t n;
	int r, rc = -1;

	memset(h, 0, sizeof(*h));
	if (fstat(fd, &st) < 0) {
		err_set("packet file %s: %s", path, strerror(errno));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		err_set("packet file %s: not a regular file", path);
		goto out;
	}
	if (lseek(fd, 0, SEEK_SET) < 0 ||
	    (n = read_full(fd, buf, st.st_size < PKT_MAX_HEADER ? st.st_size : PKT_MAX_HEADER)) < 0) {
		err_set("packet file %s: %s", path, strerror(errno));
		goto out;
	}
	if ((r = pkt_hdr_parse(buf, n, h)) <= 0) {
		if (r == 0)
			err_set("packet file %s: truncated (%zd bytes, header incomplete)", path, n);
		goto out;
	}
	if (pkt_hdr_verify(cf, self, buf, h) < 0)
		goto out;
	if ((uint64_t)st.st_size != h->info.file_size) {
		err_set("packet %s: %s (%llu bytes, the header says %" PRIu64 ")", h->info.id,
			(uint64_t)st.st_size < h->info.file_size ? "truncated" : "trailing data",
			(unsigned long long)st.st_size, h->info.file_size);
		goto out;
	}
	sha256(buf, h->info.header_len, hd);
	hs = hash_new_sha256();
	end = h->info.header_len + h->body_len;
	/* the part of the body already in buf, then the rest */
	off = (uint64_t)n < end ? (uint64_t)n : end;
	hash_update(hs, buf + h->info.header_len, off - h->info.header_len);
	while (off < end) {
		size_t want = end - off < VBUF ? end - off : VBUF;

		if ((n = pread(fd, buf, want, (off_t)off)) < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			err_set("packet %s: read %s: %s", h->info.id, path,
				n < 0 ? strerror(errno) : "truncated");
			goto out;
		}
		hash_update(hs, buf, n);
		off += n;
	}
	hash_final(hs, bd);
	hs = NULL;
	if (pread(fd, buf, PKT_TRAILER_LEN, (off_t)end) != PKT_TRAILER_LEN) {
		err_set("packet %s: read %s: truncated trailer", h->info.id, path);
		goto out;
	}
	if (check_trailer(cf, self, h, hd, bd, (const char *)buf) < 0)
		goto out;
	rc = 0;
out:
	if (hs)
		hash_final(hs, bd);
	if (rc < 0)
		pkt_hdr_free(h);
	free(buf);
	return rc;
}

int
packet_verify_file(const struct config *cf, const char *path, struct pkt_info *pi)
{
	struct pkt_hdr h;
	int fd = open(path, O_RDONLY | O_CLOEXEC), rc;

	memset(pi, 0, sizeof(*pi));
	if (fd < 0) {
		err_set("packet file %s: %s", path, strerror(errno));
		return -1;
	}
	rc = pkt_verify_fd(cf, NULL, fd, path, &h);
	close(fd);
	if (rc == 0) {
		*pi = h.info;		/* the dests move to the caller */
		memset(&h.info, 0, sizeof(h.info));
		pkt_hdr_free(&h);
	}
	return rc;
}
