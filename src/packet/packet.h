/*
 * packet.h - the sealed packet: what crosses the wire and rests in bays.
 *
 * One physical packet file = a signed outer header that relays can read
 * and check (version, packet id, group, part n of m, origin, final
 * destinations, class, created, expires, total size, one wrapped packet
 * key per destination), then a run of fixed-size ChaCha20-Poly1305 chunks
 * of a pax archive of the submitted file (zstd-compressed unless it does
 * not shrink), then a trailer
 * with the origin's Ed25519 signature over the header and the body.
 *
 * A logical packet larger than MAX-DATA-SIZE is split into parts; each part
 * is a packet of its own whose body is a contiguous run of the chunk
 * stream; the destination joins the bodies in part order and opens them.
 *
 * Everything is streaming: sealing and opening use memory independent of
 * the file size. Relays can check headers and signatures but hold no key
 * that opens the payload. Nothing here touches bay state directories; the
 * caller owns renames.
 *
 * Layer src/packet/: the sealed format (seal, verify, open). May call
 * the layers below it (it uses src/util/, src/crypto/, src/conf/); never
 * renames into a bay (callers commit through src/queue/) and never touches
 * the network.
 */
#ifndef SHIPD_PACKET_H
#define SHIPD_PACKET_H

#include <stdint.h>
#include <sys/types.h>
#include <time.h>
#include "../conf/config.h"
#include "../crypto/cert.h"
#include "../crypto/keys.h"
#include "../queue/order.h"
#include "../util/mailaddr.h"

#define PKT_VERSION		1
#define PKT_CHUNK		(64 * 1024)	/* plaintext bytes per chunk */
#define PKT_MAX_HEADER		(64 * 1024)	/* a larger header is refused */
#define PKT_TRAILER_BYTES	98		/* a packet file's last line, signed */
#define PKT_MAX_DESTS		256
#define PKT_DIGEST_LEN		32		/* SHA-256 */
#define PKT_KIND_MAX		32		/* a kind name: [a-z][a-z0-9-]* */
#define PKT_KIND_DATA		"data"		/* what a header without kind: is */

struct pkt_info {
	char id[ORDER_ID_MAX];		/* this physical packet (part) */
	char group[ORDER_ID_MAX];	/* the logical packet */
	int part, nparts;		/* 1-based */
	char origin[128];
	struct strv dests;		/* final destinations */
	char sclass[128];
	time_t created, expires;
	char notify[MAILADDR_MAX + 1];	/* signed notify address, "" for none */
	uint64_t total_size;		/* bytes of all parts' bodies together */
	uint64_t file_size;		/* bytes of this packet file, header to trailer */
	uint64_t header_len;		/* bytes of the header (incl. its signature) */
	/*
	 * What the packet is for: "data" (a file to deliver) unless the signed
	 * header says another kind ("revocation", "certs", ...); the
	 * destination dispatches on it, relays carry any kind.
	 */
	char kind[PKT_KIND_MAX + 1];
	/* The origin's certificate from the signed header, when it carries one. */
	int has_cert;
	struct cert cert;
	/*
	 * The packet digest: SHA-256 of the message the trailer signs,
	 * "shipd-packet-trailer 1\n" || SHA-256(header) || SHA-256(body). It
	 * names this exact file; every verifier and the sealer get it without
	 * another pass. Filled by the sealer (for the part callback), by
	 * packet_verify_file and by packet_verifier_end; zero elsewhere.
	 */
	uint8_t digest[PKT_DIGEST_LEN];
};
void pkt_info_free(struct pkt_info *pi);

/* Called once per sealed part: path is a complete, fsynced file in tmpdir
 * (its name there is not made durable); the callback must rename it away
 * and make the new name durable (or the caller's cleanup removes it). */
typedef int (*packet_part_fn)(void *arg, const char *path, const struct pkt_info *pi);

/*
 * Seal src (stored in the archive under the base name `name`, with its mode
 * and mtime) for dests, signed by me as origin. Each destination's key comes
 * from cf (config_peer); an unknown destination key is an error naming it.
 * group is the logical id; parts get ids "GROUP" (one part) or
 * "GROUP.pNofM". max_part bounds each packet file (0 = no split).
 */
int packet_seal(const struct config *cf, const struct keys *me, const char *origin,
		const char *src, const char *name, const struct strv *dests,
		const char *sclass, const char *group, time_t created, time_t expires,
		uint64_t max_part, const char *tmpdir, packet_part_fn fn, void *arg);
/* 1 if s is a well-formed kind name. */
int packet_kind_ok(const char *s);
/*
 * The header of a packet file at rest (kind, origin, certificate...).
 * Parses only: its signature was checked when the packet was taken, and
 * packet_open checks it again.
 */
int packet_file_header(const char *path, struct pkt_info *pi);
/* The same from the header's bytes in memory (buf, len: at least the whole
 * header), as a sender holds them for its offer. Parses only. */
int packet_header(const void *buf, size_t len, struct pkt_info *pi);

/*
 * What an origin may add to a file (NULL: none). notify goes into every
 * part's signed clear header: every hop may tell that address when the
 * packet expires or comes home, and none can change it. comment goes
 * inside the sealed archive (a pax extended attribute of the one entry,
 * PKT_COMMENT_MAX bytes at most): only the destinations read it.
 */
#define PKT_COMMENT_MAX		4096
struct pkt_extra {
	const char *notify;		/* util/mailaddr.h's grammar */
	const char *comment;		/* any text */
	const char *kind;		/* NULL or "data": an ordinary packet, else
					 * packet_kind_ok()'s name (shipd-cert(5)) */
	int use_fd;			/* read fd (from its start), not src: a file the
					 * caller opened, maybe with rights this process
					 * lacks (the submission socket) */
	int fd;
	/*
	 * Or NULL. Sealing while sending (packet_seal.c): when the packet's
	 * size is known before its body is sealed (one part, stored without
	 * zstd, at least PKT_EARLY_MIN bytes), its signed header is written
	 * first and early(arg of fn, path, pi) is called before the body:
	 * path is the part file, growing in order (a reader may trust its
	 * size), pi its final header fields (digest not known yet). Its
	 * trailer is written last. -1 from early fails the seal. Should the
	 * sealed size not be the one announced, that file is removed and the
	 * file sealed again the ordinary way (early is not called again).
	 */
	packet_part_fn early;
};
#define PKT_EARLY_MIN		(8 << 20)

/* packet_seal with extras (x may be NULL). me's certificate, when it has
 * one, goes into every header. */
int packet_seal_extra(const struct config *cf, const struct keys *me, const char *origin,
		      const char *src, const char *name, const struct strv *dests,
		      const char *sclass, const char *group, time_t created, time_t expires,
		      uint64_t max_part, const char *tmpdir, const struct pkt_extra *x,
		      packet_part_fn fn, void *arg);

/*
 * Check the header at the start of buf: returns the header length once it
 * is complete and its origin signature verifies, 0 when more bytes are
 * needed, -1 (err_set with the reason, naming the packet id when known) when
 * it is malformed, from an unknown origin, or badly signed. The origin's
 * key is a pinned one, or the certificate the header carries, checked by
 * src/trust/ (authority, name, validity, revocation).
 */
ssize_t packet_check_header(const struct config *cf, const void *buf, size_t len,
			    struct pkt_info *pi);

/* Check a whole packet file: header, length, and trailer signature. */
int packet_verify_file(const struct config *cf, const char *path, struct pkt_info *pi);

/*
 * The same check on bytes as they arrive (packet_stream.c), so a receiver
 * verifies while it receives and never reads the file back: feed the
 * file's bytes in order, split anyhow. The header's signature is checked
 * as soon as the header is complete, the body is hashed, the trailer is
 * checked by _end. feed returns -1 (err_set, and sticky: every later call
 * fails the same) once the bytes cannot be a good packet: bad or unsigned
 * header, more bytes than the header announces. _end returns 0 and fills
 * *pi (digest included) only if the whole file verified. what names the
 * bytes in errors before the header is known (a path, or NULL). Memory:
 * one header (at most PKT_MAX_HEADER) and a hash state.
 */
struct pkt_verifier;
struct pkt_verifier *packet_verifier_new(const struct config *cf, const char *what);
int packet_verifier_feed(struct pkt_verifier *v, const void *p, size_t n);
/*
 * packet_check_header on the header an offer shows before its bytes are
 * sent (the hop's OFFER); the verifier remembers that header, so when the
 * same bytes begin the stream their signature is not verified again (the
 * origin must still be known and its certificate good).
 */
ssize_t packet_verifier_offer(struct pkt_verifier *v, const void *hdr, size_t len,
			      struct pkt_info *pi);
int packet_verifier_end(struct pkt_verifier *v, struct pkt_info *pi);
/*
 * A whole packet file at hand (hdr, then rest: an inline offer), checked
 * in memory before a byte of it is stored: *pi is what the header says
 * (as packet_verifier_offer), *out what packet_verifier_end gives. The
 * trailer's signature covers the header's bytes, its signature line
 * included, so the header's own signature is not verified apart: one
 * Ed25519 verification, not two. Returns the header's length, or -1
 * (err_set; *pi and *out empty). v is used up either way.
 */
ssize_t packet_verifier_whole(struct pkt_verifier *v, const void *hdr, size_t hdrlen,
			      const void *rest, size_t restlen, struct pkt_info *pi,
			      struct pkt_info *out);
void packet_verifier_free(struct pkt_verifier *v);

/*
 * Open a logical packet addressed to me: parts[0..nparts-1] are the part
 * files, in any order. Checks every header signature, then reads each
 * part once: every chunk's tag is checked before its plaintext reaches the
 * decompressor, and every part's trailer signature before packet_open
 * returns success. Extracts securely into destdir (an existing empty
 * directory; refuses absolute paths, "..", links and device nodes). The
 * extracted names are added to names. On failure what it created in
 * destdir is removed again; err_get() names the packet id and the reason,
 * and the value says whose fault it was: -1 the packet is bad (refuse it),
 * PKT_LOCAL our side failed (disk full, quota, I/O error: try again later).
 */
#define PKT_LOCAL	(-2)
int packet_open(const struct config *cf, const struct keys *me,
		const char *const *parts, int nparts, const char *destdir,
		struct strv *names);
/* The same; *comment (when comment is not NULL) gets the origin's comment
 * (allocated, NULL when it gave none). */
int packet_open_extra(const struct config *cf, const struct keys *me,
		      const char *const *parts, int nparts, const char *destdir,
		      struct strv *names, char **comment);
/*
 * The same for parts this node verified when it took them: digests[i]
 * (hex; NULL or "" where not known) is the packet digest it recorded then
 * (struct order's digest). Such a part's signatures are not verified a
 * second time; its header and body are hashed as they are read, as always,
 * and must give that digest, or the packet is refused as changed on disk.
 * Its origin must still be known and its certificate still good.
 */
int packet_open_known(const struct config *cf, const struct keys *me,
		      const char *const *parts, const char *const *digests, int nparts,
		      int mode, const char *destdir, struct strv *names, char **comment);
/*
 * The same, and what part 1's header says, as read and checked (signed by
 * its origin, or the known digest's) to open it: the packet's kind and its
 * origin, copied into *said whether the opening then succeeds or not
 * (both "" when no header could be read). A delivery dispatches on them
 * without reading the header a second time.
 */
struct pkt_said {
	char kind[PKT_KIND_MAX + 1];
	char origin[sizeof(((struct pkt_info *)0)->origin)];
};
int packet_open_said(const struct config *cf, const struct keys *me,
		     const char *const *parts, const char *const *digests, int nparts,
		     int mode, const char *destdir, struct strv *names, char **comment,
		     struct pkt_said *said);
/*
 * Mode for the _known and _stream forms: the extracted file gets it
 * (DELIVER-MODE) before its one fsync; -1 keeps the entry's (0777 bits).
 *
 * One part as it arrives, delivered while it is received: hdr is the
 * part's header (exactly header_len bytes, as the hop's offer showed it:
 * its signature is verified here), fd a pipe that yields the rest of the
 * file (body, then trailer) and then ends. The same reader and the same
 * checks as a file's: only chunks that passed their tag reach the
 * decompressor, the trailer signature is checked and the stream must end
 * right after it before this returns 0; on failure what it created is
 * removed. digest gets the packet digest (packet.h) on success. The
 * caller keeps fd (closes it; the writer then sees EPIPE). known (NULL:
 * none) is the digest of a packet this node verified already (a whole
 * inline offer, packet_verifier_whole): its signatures are not verified
 * again, and the bytes must give that digest, or it is refused.
 */
int packet_open_stream(const struct config *cf, const struct keys *me, const void *hdr,
		       size_t hdrlen, int fd, const uint8_t *known, int mode,
		       const char *destdir, struct strv *names, char **comment,
		       uint8_t digest[PKT_DIGEST_LEN]);
/*
 * The same for a packet at hand whole (a small one that came inside its
 * offer): rest is the restlen bytes after the header (body, trailer),
 * read from memory, no pipe and no thread. dfd >= 0 is destdir already
 * open (the caller's; used, not closed), else destdir is opened.
 */
int packet_open_mem(const struct config *cf, const struct keys *me, const void *hdr,
		    size_t hdrlen, const void *rest, size_t restlen, const uint8_t *known,
		    int mode, int dfd, const char *destdir, struct strv *names, char **comment,
		    uint8_t digest[PKT_DIGEST_LEN]);

/*
 * Signing and unwrapping with this node's secret keys: here when me holds
 * them, else asked of the key process (keys.h). node non-NULL is the key
 * process's side for another process's request: it signs only a header of
 * this node's own packet (origin node), and a trailer only after a header
 * it signed itself. 0, or -1 with err_set.
 */
#define PKT_WRAPPED_KEY_LEN	48	/* AEAD_KEY_LEN + AEAD_TAG_LEN */
int pkt_sign_header(const struct keys *me, const char *node, const void *hdr, size_t len,
		    uint8_t sig[ED25519_SIG_LEN]);
int pkt_sign_trailer(const struct keys *me, const char *node, const void *hdr, size_t len,
		     const uint8_t bd[PKT_DIGEST_LEN], uint8_t sig[ED25519_SIG_LEN]);
int pkt_unwrap(const struct keys *me, const uint8_t eph_pub[X25519_LEN], const char *group,
	       const char *dest, const uint8_t in[PKT_WRAPPED_KEY_LEN], uint8_t *key);

#endif
