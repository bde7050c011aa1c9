/*
 * wire_body.c - hop protocol 5's body frames over TCP (wire.c has the
 * other frames and the hop API): a message whose tail is a packet's bytes,
 * end-to-end encrypted already, crosses the hop with only its head
 * encrypted and the body authenticated under the same tag:
 *
 *   word[4] = 0x80000000 | n     n: the bytes after the word
 *   hlen[4]                      the sealed head's length, >= 1
 *   sealed[hlen]                 ChaCha20 of (kind | head), kind = DATA
 *   body[n - 4 - hlen - 16]      as it is
 *   tag[16]                      Poly1305 over AD = word | hlen | body
 *                                and the ciphertext sealed[]
 *
 * under the frame counter's nonce, as every frame, so a body frame
 * replayed, dropped, reordered, cut or altered anywhere (a byte of the
 * body, of the head, of either length) fails as any frame does; the head
 * (type, slot, offset; an OFFER's header and order) names the order and
 * the place the body belongs to, so the tag binds the bytes to both.
 *
 * Offers wire_send_body and wire_read_body. The receiver reads the body
 * straight into the caller's buffer (one copy fewer than a sealed frame)
 * and hands over head | body as one message only after the tag verified.
 * The sender writes head, body and tag with one writev, or, for a peer on
 * another host, hands the body to the kernel from the packet file
 * (sendfile): measured on loopback, sendfile's page-backed segments cost
 * the receiving process more than the sender saves, and there both are
 * ours. Never returns a byte of a frame whose tag did not verify.
 */
#include "wire.h"
#include "wire_int.h"
#include "../util/log.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/uio.h>

/* The next n bytes of a frame already begun: 0, or -1 (err_set). */
static int
read_part(int fd, void *buf, size_t n, int64_t deadline, const char *what)
{
	int r = wire_read_full(fd, buf, n, deadline, what, NULL);

	if (r == 0)
		err_set("connection closed in mid-frame");
	return r == 1 ? 0 : -1;
}

/*
 * n bytes of file `in` from off to the socket, by the kernel, before
 * deadline: 0, -1 (err_set), or 1 when sendfile cannot take this file at
 * all and nothing was sent (the caller writes from memory instead).
 */
static int
sendfile_full(int fd, int in, off_t off, size_t n, int64_t deadline, const char *what)
{
	size_t done = 0;

	while (done < n) {
		ssize_t r = sendfile(fd, in, &off, n - done);

		if (r > 0) {
			done += r;
			continue;
		}
		if (r == 0) {
			err_set("write %s: the file ended under sendfile", what);
			return -1;
		}
		if (done == 0 && (errno == EINVAL || errno == ENOSYS || errno == EOVERFLOW))
			return 1;
		if (wire_write_wait(fd, deadline, what) < 0)
			return -1;
	}
	return 0;
}

/* sendfile(2) has no MSG_NOSIGNAL: use it only where SIGPIPE is ignored. */
static int
sigpipe_ignored(void)
{
	struct sigaction sa;

	return sigaction(SIGPIPE, NULL, &sa) == 0 && sa.sa_handler == SIG_IGN;
}

/*
 * One body frame (the top of this file): the head sealed in h->fbuf, the
 * body (blen bytes at body, and at off in file fd when fd >= 0) only
 * authenticated, all of it written within us microseconds.
 */
int
wire_send_body(struct hop *h, const uint8_t *head, size_t hlen, const uint8_t *body,
	      size_t blen, int fd, off_t off, int64_t us)
{
	uint8_t nonce[AEAD_NONCE_LEN], tag[AEAD_TAG_LEN];
	size_t sl = 1 + hlen;
	struct aead_ad ad[2] = { { h->fbuf, 8 }, { body, blen } };
	struct iovec iov[3];
	int64_t deadline = wire_now_us() + us;
	int r;

	put32(h->fbuf, FRAME_BODY | (uint32_t)(4 + sl + blen + AEAD_TAG_LEN));
	put32(h->fbuf + 4, (uint32_t)sl);
	h->fbuf[8] = FR_DATA;
	memcpy(h->fbuf + 9, head, hlen);
	wire_nonce(nonce, 0, h->tx_ctr);
	if (aead_seal_ad(h->tx, nonce, ad, 2, h->fbuf + 8, sl, h->fbuf + 8, tag) < 0)
		return -1;
	h->tx_ctr++;
	iov[0] = (struct iovec){ h->fbuf, 8 + sl };
	if (fd >= 0 && h->kernel_send && sigpipe_ignored()) {
		/* the head, the body by the kernel from the file, the tag */
		if (wire_writev_full(h->fd, iov, 1, MSG_MORE, deadline, "sending") < 0 ||
		    (r = sendfile_full(h->fd, fd, off, blen, deadline, "sending")) < 0)
			goto fail;
		if (r == 0) {
			iov[0] = (struct iovec){ tag, AEAD_TAG_LEN };
			if (wire_writev_full(h->fd, iov, 1, 0, deadline, "sending") < 0)
				goto fail;
			return 0;
		}
		iov[0] = (struct iovec){ NULL, 0 };	/* the head went: body and tag from memory */
	}
	iov[1] = (struct iovec){ (void *)body, blen };
	iov[2] = (struct iovec){ tag, AEAD_TAG_LEN };
	if (wire_writev_full(h->fd, iov, 3, 0, deadline, "sending") < 0)
		goto fail;
	return 0;
fail:
	h->dead = 1;
	return -1;
}

/*
 * The rest of a body frame whose word (n: what follows it) was read:
 * head | body straight into dst (size bytes), the body authenticated
 * where it lands. Returns the message's length, or -1.
 */
ssize_t
wire_read_body(struct hop *h, const uint8_t word[4], uint32_t n, int64_t deadline,
	      const char *what, uint8_t *dst, size_t size)
{
	uint8_t ad0[8], nonce[AEAD_NONCE_LEN];
	struct aead_ad ad[2];
	size_t sl, blen;

	memcpy(ad0, word, 4);
	if (n < 4 + 1 + AEAD_TAG_LEN || n > 4 + 1 + HOP_MAX_MSG + AEAD_TAG_LEN) {
		err_set("bad body frame length %u", n);
		return -1;
	}
	if (read_part(h->fd, ad0 + 4, 4, deadline, what) < 0)
		return -1;
	sl = get32(ad0 + 4);
	if (sl < 1 || sl > n - 4 - AEAD_TAG_LEN) {
		err_set("bad body frame head length %zu", sl);
		return -1;
	}
	blen = n - 4 - sl - AEAD_TAG_LEN;
	if (dst == NULL) {
		err_set("unexpected body frame %s", what);
		return -1;
	}
	if (sl - 1 + blen > size) {
		err_set("message of %zu bytes does not fit a %zu-byte buffer", sl - 1 + blen, size);
		return -1;
	}
	if (read_part(h->fd, h->fbuf, sl, deadline, what) < 0 ||
	    read_part(h->fd, dst + sl - 1, blen, deadline, what) < 0 ||
	    read_part(h->fd, h->fbuf + sl, AEAD_TAG_LEN, deadline, what) < 0)
		return -1;
	ad[0] = (struct aead_ad){ ad0, 8 };
	ad[1] = (struct aead_ad){ dst + sl - 1, blen };
	wire_nonce(nonce, 0, h->rx_ctr);
	if (aead_open_ad(h->rx, nonce, ad, 2, h->fbuf, sl, h->fbuf, h->fbuf + sl) < 0) {
		err_set("frame %llu failed authentication (altered, replayed, reordered or lost)",
			(unsigned long long)h->rx_ctr);
		return -1;
	}
	h->rx_ctr++;
	if (h->fbuf[0] != FR_DATA) {
		err_set("unexpected body frame kind %u", h->fbuf[0]);
		return -1;
	}
	memcpy(dst, h->fbuf + 1, sl - 1);
	return sl - 1 + blen;
}

