/*
 * packet_int.h - the packet format's private pieces, shared by the
 * packet_*.c files, the module test, the fuzz target and the benchmark.
 * Nothing outside those may include it: the contract is packet.h.
 *
 * Layers, bottom up:
 *   packet_header.c  the text header: parse, format, sign, check; the
 *                    format's documentation lives at its top
 *   packet_chunk.c   one AEAD chunk, key wrapping, stream geometry
 *   packet_sealer.c  a plaintext stream -> chunks -> part files
 *   packet_writer.c  the sealer's writing and hashing, on two threads
 *   packet_seal.c    libarchive (pax, zstd unless sampling says no)
 *                    writer feeding the sealer
 *   packet_stream.c  streaming check: bytes in order -> header, body
 *                    hash, trailer signature, packet digest
 *   packet_verify.c  whole-file check (the streaming check over a file)
 *   packet_reader.c  parts -> decrypted plaintext stream, one read pass:
 *                    a second thread reads and hashes, the caller's
 *                    thread decrypts and checks the trailers
 *   packet_open.c    libarchive reader + secure single-file extraction
 */
#ifndef SHIPD_PACKET_INT_H
#define SHIPD_PACKET_INT_H

#include <stdint.h>
#include "packet.h"

struct archive;

#define PKT_MAGIC		"shipd-packet 1"
#define PKT_MAGIC_PREFIX	"shipd-packet "
#define PKT_HEADER_CTX		"shipd-packet-header 1\n"
#define PKT_TRAILER_CTX		"shipd-packet-trailer 1\n"
#define PKT_CCHUNK		(PKT_CHUNK + AEAD_TAG_LEN)	/* a full chunk on disk */
#define PKT_MAX_LINE		512
#define PKT_MAX_PARTS		99999
#define PKT_WRAP_LEN		(AEAD_KEY_LEN + AEAD_TAG_LEN)
_Static_assert(PKT_WRAP_LEN == PKT_WRAPPED_KEY_LEN, "packet.h says it too");
#define PKT_SIG_B64		88	/* base64 of an Ed25519 signature */
#define PKT_SIGLINE_LEN		(5 + PKT_SIG_B64 + 1)	/* "sig: " B64 "\n" */
#define PKT_TRAILER_LEN		(9 + PKT_SIG_B64 + 1)	/* "trailer: " B64 "\n" */
_Static_assert(PKT_TRAILER_LEN == PKT_TRAILER_BYTES, "packet.h says it too");
#define PKT_NAME_MAX		127	/* node and class names, as in pkt_info */

_Static_assert(PKT_DIGEST_LEN == SHA256_LEN, "the packet digest is a SHA-256");

/* A parsed header: the public pkt_info plus what only the format needs. */
struct pkt_hdr {
	struct pkt_info info;
	uint64_t body_len;		/* ciphertext bytes in this part */
	uint64_t first_chunk;		/* index of this part's first chunk */
	uint32_t chunk_size;		/* plaintext bytes per full chunk */
	uint8_t eph[X25519_LEN];	/* ephemeral X25519 public key */
	uint8_t (*wraps)[PKT_WRAP_LEN];	/* one per dest, in dest order */
	size_t signed_len;		/* bytes the header signature covers */
	uint8_t sig[ED25519_SIG_LEN];
	/* set by pkt_hdr_verify: the key that signed it (checks the trailer too) */
	struct pubkey okey;
	int have_okey;
};
void pkt_hdr_free(struct pkt_hdr *h);

/*
 * Parse buf as a header (no signature check). 1: parsed, *h filled;
 * 0: more bytes needed; -1: malformed (err_set "packet ID: ...").
 * *h is always safe to pkt_hdr_free().
 */
int pkt_hdr_parse(const void *buf, size_t len, struct pkt_hdr *h);

/*
 * A node's public key without a certificate at hand (trust_node_key): a
 * PEER/KEY entry, self when it is us, a learned certificate. -1 with
 * err_set when there is none.
 */
int pkt_node_key(const struct config *cf, const struct keys *self, const char *name,
		 struct pubkey *out);
/* Check h's signature over buf (the bytes it was parsed from); sets h->okey. */
int pkt_hdr_verify(const struct config *cf, const struct keys *self, const void *buf,
		   struct pkt_hdr *h);
/*
 * Only the origin's key, without the signature: for a header whose bytes
 * this node verified before (the packet digest it recorded then says so).
 * The origin must still be known and its certificate still good
 * (revocation, validity). Sets h->okey.
 */
int pkt_hdr_origin(const struct config *cf, const struct keys *self, struct pkt_hdr *h);

/*
 * Format and sign h (info, body_len, first_chunk, eph, wraps) into out,
 * padded with a "pad:" line to exactly `size` bytes including the
 * signature line; size 0 = the worst-case reserve for h's fields.
 * h->info.header_len and h->signed_len are set.
 */
int pkt_hdr_format(struct pkt_hdr *h, const struct keys *me, size_t size, struct sbuf *out);
/* Bytes reserved for h's header: every variable number at its widest. */
size_t pkt_hdr_reserve(const struct pkt_hdr *h);

/* Names: [A-Za-z0-9._-]+, at most max bytes. */
int pkt_name_ok(const char *s, size_t max);

/*
 * The header signature's message: context || SHA-256(signed bytes). A
 * fixed-size message, because libgcrypt's EdDSA signing copies the message
 * into its 64 KiB secure-memory pool and aborts when a near-64 KiB header
 * does not fit.
 */
void pkt_header_msg(const void *hdr, size_t len, uint8_t *msg, size_t *mlen);
#define PKT_HEADER_MSG_MAX	(sizeof(PKT_HEADER_CTX) + PKT_DIGEST_LEN)

/* The trailer's signed message: context || H(header) || H(body). */
void pkt_trailer_msg(const uint8_t hd[PKT_DIGEST_LEN], const uint8_t bd[PKT_DIGEST_LEN],
		     uint8_t *msg, size_t *len);
#define PKT_TRAILER_MSG_MAX	(sizeof(PKT_TRAILER_CTX) + 2 * PKT_DIGEST_LEN)
/* The packet digest (packet.h): SHA-256 of that message. */
void pkt_packet_digest(const uint8_t hd[PKT_DIGEST_LEN], const uint8_t bd[PKT_DIGEST_LEN],
		       uint8_t out[PKT_DIGEST_LEN]);

/*
 * Check a trailer line (PKT_TRAILER_LEN bytes at tl) of the packet with
 * header h against H(header) and H(body): 0, or -1 with the reason in
 * why (never err_set: the reader calls it where err_set may race).
 */
int pkt_check_trailer(const struct config *cf, const struct keys *self,
		      const struct pkt_hdr *h, const uint8_t hd[PKT_DIGEST_LEN],
		      const uint8_t bd[PKT_DIGEST_LEN], const char *tl, char *why,
		      size_t whylen);

/*
 * One chunk: ChaCha20-Poly1305 under the packet key, nonce = 0^4 || index
 * (big-endian), associated data = "shipd-chunk 1" || len(group) || group ||
 * index || final flag. Sealing works in place and appends the tag at
 * buf + len; opening takes clen = plaintext + tag bytes and returns the
 * plaintext length, or -1 with err_set("tampered chunk N").
 */
int pkt_chunk_seal(struct aead *a, const char *group, uint64_t idx, int final,
		   uint8_t *buf, size_t len);
ssize_t pkt_chunk_open(struct aead *a, const char *group, uint64_t idx, int final,
		       uint8_t *buf, size_t clen);

/* Chunks in a stream of total ciphertext bytes; -1 if no whole chunking fits. */
int pkt_stream_chunks(uint64_t total, uint64_t *nchunks);

/*
 * Key wrapping: KEK = HKDF-SHA256(salt = eph_pub || dest_kx,
 * ikm = X25519(eph_sec, dest_kx), info = "shipd wrap v1" || group);
 * wrap = ChaCha20-Poly1305(KEK, nonce 0, ad = dest name, packet key).
 */
int pkt_wrap(const uint8_t *eph_sec, const uint8_t eph_pub[X25519_LEN],
	     const uint8_t dest_kx[X25519_LEN], const char *group, const char *dest,
	     const uint8_t *key, uint8_t out[PKT_WRAP_LEN]);
/* pkt_unwrap: packet.h */

/* The pax extended attribute that carries an origin's comment (packet.h). */
#define PKT_COMMENT_XATTR	"user.shipd.comment"

/* What a seal is for; the stream's content is the caller's. */
struct pkt_seal_params {
	const char *origin, *sclass, *group;
	const struct strv *dests;
	time_t created, expires;
	uint64_t max_part;		/* 0: never split */
	const char *tmpdir;
	const char *notify;		/* NULL, or signed into every part's header */
	const char *kind;		/* NULL: data */
};

/* The sealer: plaintext stream in, finished part files out. */
struct pkt_sealer;
struct pkt_sealer *pkt_sealer_new(const struct config *cf, const struct keys *me,
				  const struct pkt_seal_params *sp);
int pkt_sealer_write(struct pkt_sealer *s, const void *p, size_t n);
/* Seal the final chunk, write headers and trailers, hand each part to fn. */
int pkt_sealer_finish(struct pkt_sealer *s, packet_part_fn fn, void *arg);
/* Free; removes every part file not yet handed to fn. */
void pkt_sealer_free(struct pkt_sealer *s);
/*
 * Sealing while sending, before the first write: the stream will be
 * exactly plain_len bytes. One part: its signed header is written now,
 * the writer writes in order, fn(arg, path, pi) is told (pi: the final
 * header's fields, no digest); 1. More than one part: 0, nothing done.
 * -1 on failure (fn's too). finish fails when the stream was another
 * length; _mispredicted then says so.
 */
int pkt_sealer_early(struct pkt_sealer *s, uint64_t plain_len, packet_part_fn fn, void *arg);
int pkt_sealer_mispredicted(const struct pkt_sealer *s);

/*
 * The sealer's back end (packet_writer.c): sealed chunks are written to
 * their part files and each part's body hashed, shared between the
 * caller's thread and a helper. slot() gives the buffer (PKT_CCHUNK
 * bytes) to fill next, doing queued writes while all are busy; submit()
 * queues it for part number `part` (1-based, parts in order) at offset
 * off in fd; -1 once a write has failed. The caller owns each fd: sync()
 * (all queued writes done) before closing it. finish() writes and hashes
 * all and copies each part's body digest. sync and finish err_set
 * "write part N: ..." on failure.
 */
#define PKT_WSLOTS	16
struct pkt_writer;
struct pkt_writer *pkt_writer_new(void);
uint8_t *pkt_writer_slot(struct pkt_writer *w);
int pkt_writer_submit(struct pkt_writer *w, int fd, int part, off_t off, size_t len);
/* From now on one write at a time, oldest first: a file grows in order. */
void pkt_writer_ordered(struct pkt_writer *w);
int pkt_writer_sync(struct pkt_writer *w);
int pkt_writer_finish(struct pkt_writer *w, uint8_t (*dig)[PKT_DIGEST_LEN], int nparts);
void pkt_writer_free(struct pkt_writer *w);

/*
 * The real sealing path with the archive's content left to the caller:
 * produce() adds entries to an open pax+zstd archive writer whose output
 * goes through the sealer (tests use it to seal hostile archives; the
 * bench to try zstd options).
 */
typedef int (*pkt_produce_fn)(struct archive *a, void *arg);
int packet_seal_archive_stream(const struct config *cf, const struct keys *me,
			       const struct pkt_seal_params *sp, pkt_produce_fn produce,
			       void *parg, packet_part_fn fn, void *arg);
/* libarchive write options for the zstd filter (the bench may change it). */
extern const char *pkt_zstd_options;
/* 1: packet_seal compresses without sampling first (the bench's baseline). */
extern int pkt_zstd_always;

/* The streaming verifier with self's key known too (an origin's own
 * packets); _hdr is the verified header once it is complete, else NULL. */
struct pkt_verifier *pkt_verifier_new(const struct config *cf, const struct keys *self,
				      const char *what);
const struct pkt_hdr *pkt_verifier_hdr(const struct pkt_verifier *v);
/* As packet_verifier_end, but the whole header moves to *h. */
int pkt_verifier_end_hdr(struct pkt_verifier *v, struct pkt_hdr *h);

/* Check one packet file open on fd: header, size, trailer. Fills *h. */
int pkt_verify_fd(const struct config *cf, const struct keys *self, int fd,
		  const char *path, struct pkt_hdr *h);

/*
 * The reader: parts in, decrypted plaintext out. _new checks each part's
 * header signature and length and that the parts are one sealing, and
 * opens our wrapped key; on failure errno is the local error (ENOSPC, EIO,
 * EMFILE...) when ours was the fault, else EBADMSG.
 */
struct pkt_reader;
struct pkt_reader *pkt_reader_new(const struct config *cf, const struct keys *me,
				  const char *const *parts, int nparts);
/*
 * The same, for parts whose packet digests (packet.h; hex, one per part,
 * NULL or "" where not known) this node recorded when it verified them on
 * the way in: a part with one is not verified a second time (header and
 * trailer signature), its bytes are compared with that digest instead
 * (header and body hashed as always; a file changed on disk is refused).
 */
struct pkt_reader *pkt_reader_new_known(const struct config *cf, const struct keys *me,
					const char *const *parts, const char *const *digests,
					int nparts);
/*
 * One part as a stream: hdr (hdrlen bytes, exactly its header) is parsed
 * and its signature verified here; fd (a pipe, left open) then yields the
 * rest of the packet file, body and trailer, and must end right after the
 * trailer. pkt_reader_digest is the packet digest once next() said 0.
 * known (NULL: none) is the packet digest of bytes this node verified
 * already: no signature is verified again, the bytes must give it.
 */
struct pkt_reader *pkt_reader_new_stream(const struct config *cf, const struct keys *me,
					 const void *hdr, size_t hdrlen, int fd,
					 const uint8_t *known);
/* The same with the rest of the file (restlen bytes after the header) in
 * memory, the caller's until _free: read without a thread or a pipe. */
struct pkt_reader *pkt_reader_new_mem(const struct config *cf, const struct keys *me,
				      const void *hdr, size_t hdrlen, const void *rest,
				      size_t restlen, const uint8_t *known);
const uint8_t *pkt_reader_digest(const struct pkt_reader *r);
/*
 * Next plaintext chunk (valid until the next call): >0 bytes; 0 at the end,
 * only after the final chunk and every part's trailer signature checked;
 * -1 on error (pkt_reader_local() then says whether it was ours).
 */
ssize_t pkt_reader_next(struct pkt_reader *r, const void **p);
int pkt_reader_local(const struct pkt_reader *r);
const char *pkt_reader_group(const struct pkt_reader *r);
/* Part 1's header, as read and checked by _new. */
const struct pkt_info *pkt_reader_info(const struct pkt_reader *r);
void pkt_reader_free(struct pkt_reader *r);
/* Is e an error of our own side (disk full, quota, I/O, no memory or fds)? */
int pkt_errno_local(int e);

/* Entry name check for extraction: NULL if fine, else the reason. */
const char *pkt_entry_name_bad(const char *name);

#endif
