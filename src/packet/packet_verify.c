/*
 * packet_verify.c - check one whole packet file against its origin's
 * public key: the header's signature, the file's length, and the trailer
 * signature over H(header) || H(body). What relays and `shipctl` do with a
 * file at rest; the receiver runs the same check (packet_stream.c) on the
 * bytes as they arrive instead.
 *
 * Offers packet_verify_file and packet_file_header (packet.h) and
 * pkt_verify_fd (packet_int.h).
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

int
pkt_verify_fd(const struct config *cf, const struct keys *self, int fd, const char *path,
	      struct pkt_hdr *h)
{
	struct pkt_verifier *v = pkt_verifier_new(cf, self, path);
	const struct pkt_hdr *vh;
	uint8_t *buf = xmalloc(VBUF);
	struct stat st;
	uint64_t off = 0;
	ssize_t n;
	int sized = 0, rc = -1;

	memset(h, 0, sizeof(*h));
	if (fstat(fd, &st) < 0) {
		err_set("packet file %s: %s", path, strerror(errno));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		err_set("packet file %s: not a regular file", path);
		goto out;
	}
	for (;;) {
		if ((n = pread(fd, buf, VBUF, (off_t)off)) < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			err_set("packet file %s: %s", path, strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		if (packet_verifier_feed(v, buf, n) < 0)
			goto out;
		off += n;
		/* a wrong length is known as soon as the header is: say so at once */
		if (!sized && (vh = pkt_verifier_hdr(v)) != NULL) {
			sized = 1;
			if ((uint64_t)st.st_size != vh->info.file_size) {
				err_set("packet %s: %s (%llu bytes, the header says %" PRIu64 ")",
					vh->info.id, (uint64_t)st.st_size < vh->info.file_size ?
					"truncated" : "trailing data", (unsigned long long)st.st_size,
					vh->info.file_size);
				goto out;
			}
		}
	}
	rc = pkt_verifier_end_hdr(v, h);
out:
	packet_verifier_free(v);
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

int
packet_header(const void *buf, size_t len, struct pkt_info *pi)
{
	struct pkt_hdr h;

	if (pkt_hdr_parse(buf, len, &h) != 1) {
		err_set("packet: no whole header");
		return -1;
	}
	*pi = h.info;		/* the dests move to the caller */
	memset(&h.info, 0, sizeof(h.info));
	pkt_hdr_free(&h);
	return 0;
}

int
packet_file_header(const char *path, struct pkt_info *pi)
{
	uint8_t *buf = xmalloc(PKT_MAX_HEADER);
	struct pkt_hdr h;
	int fd = open(path, O_RDONLY | O_CLOEXEC), rc = -1;
	ssize_t n;

	if (fd < 0)
		err_set("packet file %s: %s", path, strerror(errno));
	else if ((n = read_full(fd, buf, PKT_MAX_HEADER)) < 0)
		err_set("packet file %s: %s", path, strerror(errno));
	else if (pkt_hdr_parse(buf, n, &h) == 1) {
		*pi = h.info;		/* the dests move to the caller */
		memset(&h.info, 0, sizeof(h.info));
		pkt_hdr_free(&h);
		rc = 0;
	} else
		err_set("packet file %s: no whole header", path);
	if (fd >= 0)
		close(fd);
	free(buf);
	return rc;
}
