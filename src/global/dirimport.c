/*
 * dirimport.c - the reading half of a directory hop (dirhop.h): take the
 * packets and receipts a medium holds for this node. A packet is checked
 * as the network receiver checks it (accept.h, the streaming verifier)
 * plus the envelope's size and digest, copied into the bay's partial/ and
 * committed with bay_accept; only then is a receipt written back and the
 * files removed from the medium. A receipt closes (part of) an order
 * exported from here. Changes a bay only through commit.h; what it
 * refuses goes to DIR/refused/ with a .why, and it always goes on to the
 * next file.
 */
#include "accept.h"
#include "dirhop.h"
#include "envelope.h"
#include "../crypto/crypto.h"
#include "../packet/packet.h"
#include "../queue/commit.h"
#include "../queue/history.h"
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
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

struct imp {
	const struct config *cf;
	const struct keys *me;
	const char *dir;
	int (*once)(const char *key);
	struct import_stats *st;
};

/* Move dir/name to dir/refused/name with name.why beside it. */
static void
refuse_file(struct imp *im, const char *name, const char *why)
{
	char from[PATH_MAX], rdir[PATH_MAX], to[PATH_MAX], whyname[NAME_MAX + 1];
	struct sbuf w = {0};

	msg_warnx("import %s/%s: refused: %s", im->dir, name, why);
	im->st->refused++;
	if (snprintf(from, sizeof(from), "%s/%s", im->dir, name) >= (int)sizeof(from) ||
	    snprintf(rdir, sizeof(rdir), "%s/%s", im->dir, DIRHOP_REFUSED) >= (int)sizeof(rdir) ||
	    snprintf(to, sizeof(to), "%s/%s", rdir, name) >= (int)sizeof(to) ||
	    snprintf(whyname, sizeof(whyname), "%s.why", name) >= (int)sizeof(whyname))
		return;
	if (mkdirs(rdir, 0700) < 0 || safe_rename(from, to) < 0) {
		msg_warnx("import %s/%s: cannot move it to %s/: %s", im->dir, name, DIRHOP_REFUSED,
			  strerror(errno));
		return;
	}
	sbuf_printf(&w, "%s\n", why);
	if (safe_write(rdir, whyname, w.s, w.len, 0644) < 0)
		msg_warnx("import %s/%s: %s", rdir, whyname, err_get());
	sbuf_free(&w);
}

static void
waiting(struct imp *im, const char *name, const char *why)
{
	char key[PATH_MAX + 64];

	snprintf(key, sizeof(key), "wait %s/%s", im->dir, name);
	if (im->once == NULL || im->once(key))
		msg_info("import %s/%s: left for later: %s", im->dir, name, why);
	im->st->waiting++;
}

/* The value of "\nto: " in an envelope's text, to leave others' files alone. */
static int
addressed_to(const char *buf, const char *node)
{
	const char *p = strstr(buf, "\nto: "), *nl;
	size_t n = strlen(node);

	if (p == NULL)
		return 1;		/* malformed: let the parser say why */
	p += 5;
	nl = strchr(p, '\n');
	return nl && (size_t)(nl - p) == n && memcmp(p, node, n) == 0;
}

/* Write the receipt for e (a packet taken, or had before) back into dir. */
static void
write_receipt(struct imp *im, const struct envelope *e, const struct order *o, const char *status)
{
	struct envelope r;
	char name[NAME_MAX + 1], *text;
	size_t len;

	memset(&r, 0, sizeof(r));
	snprintf(r.kind, sizeof(r.kind), "%s", ENV_RECEIPT);
	snprintf(r.from, sizeof(r.from), "%s", im->cf->node);
	snprintf(r.to, sizeof(r.to), "%s", e->from);
	snprintf(r.id, sizeof(r.id), "%s", e->id);
	snprintf(r.status, sizeof(r.status), "%s", status);
	r.created = time(NULL);
	for (int i = 0; i < o->dests.n; i++)
		strv_add(&r.dests, o->dests.v[i]);
	snprintf(name, sizeof(name), "%s%s", e->id, DIRHOP_RCPT);
	if ((text = envelope_format(&r, im->me, &len)) == NULL)
		msg_warnx("import %s: cannot sign the receipt %s for %s (it keeps the order until "
			  "it expires): %s", im->dir, name, e->from, err_get());
	else if (safe_write(im->dir, name, text, len, 0644) < 0)
		msg_warnx("import %s: cannot write the receipt %s for %s (it keeps the order until "
			  "it expires): %s", im->dir, name, e->from, err_get());
	free(text);
	envelope_free(&r);
}

/* The packet and its envelope leave the medium (envelope first: a packet
 * without one is never taken). */
static void
remove_pair(struct imp *im, const char *env, const char *pkt)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/%s", im->dir, env);
	if (safe_unlink(path) < 0 && errno != ENOENT)
		msg_warnx("import %s: cannot remove it: %s", path, strerror(errno));
	snprintf(path, sizeof(path), "%s/%s", im->dir, pkt);
	if (safe_unlink(path) < 0 && errno != ENOENT)
		msg_warnx("import %s: cannot remove it: %s", path, strerror(errno));
}

static void
refuse_pair(struct imp *im, const char *env, const char *pkt, const char *why)
{
	char path[PATH_MAX];
	struct stat st;

	snprintf(path, sizeof(path), "%s/%s", im->dir, pkt);
	if (lstat(path, &st) == 0) {
		refuse_file(im, pkt, why);
		im->st->refused--;	/* one refusal for the pair */
	}
	refuse_file(im, env, why);
}

/*
 * Copy the packet into partial/ through the verifier and a SHA-256:
 * 0 the bytes are the packet the envelope names, BAY_REFUSED (why set),
 * BAY_LATER (why set).
 */
static int
receive_copy(struct imp *im, int in, int out, const struct envelope *e, struct pkt_info *pi,
	     struct sbuf *why)
{
	static uint8_t buf[256 * 1024];
	struct pkt_verifier *v = packet_verifier_new(im->cf, e->id);
	struct hash *h = hash_new_sha256();
	uint8_t dg[SHA256_LEN];
	char sha[65], offered[ORDER_ID_MAX];
	uint64_t done = 0;
	int rc = BAY_REFUSED;

	snprintf(offered, sizeof(offered), "%s", pi->id);
	while (done < e->size) {
		size_t want = e->size - done < sizeof(buf) ? e->size - done : sizeof(buf);
		ssize_t n = read_full(in, buf, want);

		if (n <= 0) {
			sbuf_printf(why, "read: %s", n < 0 ? strerror(errno) : "file shrank");
			rc = BAY_LATER;
			goto out;
		}
		if (packet_verifier_feed(v, buf, n) < 0) {
			sbuf_puts(why, err_get());
			goto out;
		}
		hash_update(h, buf, n);
		if (write_all(out, buf, n) < 0) {
			sbuf_printf(why, "bay full: %s", strerror(errno));
			rc = BAY_LATER;
			goto out;
		}
		done += n;
	}
	if (fsync(out) < 0) {
		sbuf_printf(why, "bay full: fsync: %s", strerror(errno));
		rc = BAY_LATER;
		goto out;
	}
	hash_final(h, dg);
	h = NULL;
	hex_encode(dg, sizeof(dg), sha);
	if (strcmp(sha, e->sha256) != 0) {
		sbuf_printf(why, "the packet file's SHA-256 is not the one its envelope states "
			    "(tampered or damaged)");
		goto out;
	}
	pkt_info_free(pi);
	memset(pi, 0, sizeof(*pi));
	if (packet_verifier_end(v, pi) < 0) {
		sbuf_puts(why, err_get());
		goto out;
	}
	if (strcmp(pi->id, offered) != 0) {
		sbuf_printf(why, "the file is packet %s, not %s", pi->id, offered);
		goto out;
	}
	rc = 0;
out:
	if (h)
		hash_final(h, dg);
	packet_verifier_free(v);
	return rc;
}

/* ID.env of kind packet, verified, addressed here. */
static void
take_packet(struct imp *im, const char *envname, const struct envelope *e)
{
	char pkt[NAME_MAX + 1], path[PATH_MAX];
	const char *bay = NULL;
	uint8_t *hdr = NULL;
	struct pkt_info pi;
	struct order o;
	struct stat st;
	struct sbuf why = {0};
	uint64_t off;
	ssize_t hn;
	int in = -1, out = -1, r;

	memset(&pi, 0, sizeof(pi));
	order_init(&o);
	snprintf(pkt, sizeof(pkt), "%s%s", e->id, DIRHOP_PKT);
	snprintf(path, sizeof(path), "%s/%s", im->dir, pkt);
	if (lstat(path, &st) < 0) {
		waiting(im, envname, errno == ENOENT ? "its packet file is not there (yet)" :
			strerror(errno));
		goto done;
	}
	if (!S_ISREG(st.st_mode)) {
		refuse_pair(im, envname, pkt, S_ISLNK(st.st_mode) ? "the packet file is a symbolic "
			    "link (never followed)" : "the packet file is not a regular file");
		goto done;
	}
	if ((uint64_t)st.st_size < e->size) {
		sbuf_printf(&why, "incomplete: %s has %lld of %" PRIu64 " bytes (still being "
			    "copied?)", pkt, (long long)st.st_size, e->size);
		waiting(im, envname, why.s);
		goto done;
	}
	if ((uint64_t)st.st_size > e->size) {
		sbuf_printf(&why, "%s has %lld bytes, its envelope says %" PRIu64, pkt,
			    (long long)st.st_size, e->size);
		refuse_pair(im, envname, pkt, why.s);
		goto done;
	}
	if ((in = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)) < 0 ||
	    fstat(in, &st) < 0 || !S_ISREG(st.st_mode)) {
		refuse_pair(im, envname, pkt, "the packet file cannot be opened as a regular file");
		goto done;
	}
	if (order_parse(e->order, strlen(e->order), &o) < 0 || strcmp(o.id, e->id) != 0) {
		sbuf_printf(&why, "the envelope's order is malformed: %s",
			    o.id[0] ? "its id is not the envelope's" : err_get());
		refuse_pair(im, envname, pkt, why.s);
		goto done;
	}
	hdr = xmalloc(PKT_MAX_HEADER);
	hn = read_full(in, hdr, e->size < PKT_MAX_HEADER ? e->size : PKT_MAX_HEADER);
	if (hn <= 0 || packet_check_header(im->cf, hdr, hn, &pi) <= 0) {
		sbuf_printf(&why, "packet header: %s", hn <= 0 ? "unreadable" : err_get());
		refuse_pair(im, envname, pkt, why.s);
		goto done;
	}
	switch (accept_check(im->cf, e->from, &o, &pi, &bay, im->once, &why)) {
	case ACC_OK:
		break;
	case ACC_HAVE:
		goto had;
	case ACC_LATER:
		waiting(im, envname, why.s);
		goto done;
	case ACC_REFUSE:
		refuse_pair(im, envname, pkt, why.s);
		goto done;
	default:
		msg_panic("accept_check: unknown verdict");
	}
	if ((out = bay_partial_open(bay, o.id, o.size, &off)) < 0) {
		waiting(im, envname, out == BAY_BUSY ? "another transfer of it is in progress" :
			err_get());
		out = -1;
		goto done;
	}
	if (ftruncate(out, 0) < 0 || lseek(out, 0, SEEK_SET) < 0 || lseek(in, 0, SEEK_SET) < 0) {
		waiting(im, envname, strerror(errno));
		goto done;
	}
	if ((r = receive_copy(im, in, out, e, &pi, &why)) != 0) {
		bay_partial_drop(bay, o.id);
		if (r == BAY_LATER)
			waiting(im, envname, why.s);
		else
			refuse_pair(im, envname, pkt, why.s);
		goto done;
	}
	/* a second importer (the daemon, shipctl) may have taken it meanwhile */
	if (accept_known(im->cf, o.id)) {
		bay_partial_drop(bay, o.id);
		goto had;
	}
	if (accept_commit(im->cf, bay, &o, &pi) < 0) {
		sbuf_reset(&why);
		sbuf_printf(&why, "bay full: cannot commit: %s", err_get());
		waiting(im, envname, why.s);
		goto done;
	}
	{
		struct sbuf d = {0};

		for (int i = 0; i < o.dests.n; i++)
			sbuf_printf(&d, "%s%s", i ? "," : "", o.dests.v[i]);
		msg_info("received %s from %s via directory %s: %" PRIu64 " bytes for %s into %s",
			 o.id, e->from, im->dir, e->size, d.s, bay);
		sbuf_free(&d);
	}
	im->st->taken++;
	write_receipt(im, e, &o, "accepted");
	remove_pair(im, envname, pkt);
	goto done;
had:
	msg_info("packet %s from %s via directory %s: already accepted here; acknowledged "
		 "again and removed", o.id, e->from, im->dir);
	im->st->had++;
	write_receipt(im, e, &o, "had");
	remove_pair(im, envname, pkt);
done:
	if (in >= 0)
		close(in);
	if (out >= 0)
		close(out);
	free(hdr);
	pkt_info_free(&pi);
	order_free(&o);
	sbuf_free(&why);
}

/* ID.rcpt, verified, addressed here: close what it covers. */
static void
take_receipt(struct imp *im, const char *name, const struct envelope *e)
{
	char bay[PATH_MAX], path[PATH_MAX], hop[256];
	struct strv done = {0};
	enum qstate st;
	struct claim c;
	struct order o;
	struct stat sb;
	time_t when, mtime = 0;
	int r;

	snprintf(path, sizeof(path), "%s/%s", im->dir, name);
	if (bay_locate(im->cf, e->id, bay, sizeof(bay), &st) < 0) {
		msg_info("receipt %s from %s: no order %s here (closed already); removed", name,
			 e->from, e->id);
		im->st->receipts++;
		safe_unlink(path);
		return;
	}
	if (st != Q_DEFERRED && st != Q_OUTGOING && st != Q_HOLD) {
		if (st == Q_ACTIVE) {
			waiting(im, name, "its order is being worked on");
			return;
		}
		refuse_file(im, name, "its order is not waiting for a receipt");
		return;
	}
	{
		char op[PATH_MAX];

		if (bay_path(op, sizeof(op), bay, st, e->id) == 0 && stat(op, &sb) == 0)
			mtime = sb.st_mtime;
	}
	if ((r = bay_claim(&c, bay, e->id, st)) != 0) {
		waiting(im, name, r > 0 ? "its order is being worked on" : err_get());
		return;
	}
	if (bay_load(bay, e->id, Q_ACTIVE, &o) < 0) {
		bay_corrupt(bay, e->id, Q_ACTIVE, err_get());
		bay_release(&c);
		return;
	}
	for (int i = 0; i < e->dests.n; i++) {
		const char *line = order_exported(&o, e->dests.v[i]);
		char *copy;

		const char *nh = config_next_hop(im->cf, e->dests.v[i]);

		if (!strv_has(&o.dests, e->dests.v[i]))
			continue;
		/* exported to the signer; or written there by an export that
		 * crashed before it could record it: the signer is its next hop */
		if (line ? order_export_parse(line, hop, sizeof(hop), &when) < 0 ||
		    strcmp(hop, e->from) != 0 : nh == NULL || strcmp(nh, e->from) != 0)
			continue;
		if (line) {
			copy = xstrdup(line);
			strv_remove(&o.exported, copy);
			free(copy);
		}
		strv_remove(&o.dests, e->dests.v[i]);
		if (!strv_has(&o.delivered, e->dests.v[i]))
			strv_add(&o.delivered, e->dests.v[i]);
		strv_add(&done, e->dests.v[i]);
	}
	if (done.n == 0) {
		if (bay_rewrite(bay, &o, Q_ACTIVE, st, mtime, &c) < 0)
			msg_warnx("order %s: %s", o.id, err_get());
		bay_release(&c);
		refuse_file(im, name, "it covers no destination this order exported to its signer");
		goto out;
	}
	if (o.dests.n == 0) {
		char data[PATH_MAX];
		struct pkt_info pi;
		int is_data = 0;	/* the history is of data packets (read before data/ID goes) */

		if (bay_data_path(data, sizeof(data), bay, o.id) == 0 &&
		    packet_file_header(data, &pi) == 0) {
			is_data = strcmp(pi.kind, PKT_KIND_DATA) == 0;
			pkt_info_free(&pi);
		}
		if (bay_finish(bay, o.id, Q_ACTIVE) < 0) {
			msg_warnx("order %s: finish: %s", o.id, err_get());
			bay_release(&c);
			goto out;	/* the receipt stays: the next import closes it */
		}
		if (is_data && hist_end(im->cf, bay, &o, NULL, NULL, NULL) < 0)
			msg_warnx("order %s: history not recorded: %s", o.id, err_get());
	} else if (bay_rewrite(bay, &o, Q_ACTIVE, st, mtime, &c) < 0) {
		msg_warnx("order %s: %s", o.id, err_get());
		bay_release(&c);
		goto out;
	}
	bay_release(&c);
	{
		struct sbuf d = {0};

		for (int i = 0; i < done.n; i++)
			sbuf_printf(&d, "%s%s", i ? "," : "", done.v[i]);
		msg_info("order %s: receipt from %s (%s): custody of %s moved%s", o.id, e->from,
			 e->status, d.s, o.dests.n ? "" : "; done");
		sbuf_free(&d);
	}
	im->st->receipts++;
	if (safe_unlink(path) < 0)
		msg_warnx("import %s: cannot remove it: %s", path, strerror(errno));
out:
	strv_free(&done);
	order_free(&o);
}

/* Refuse name; an envelope's packet file (same stem) goes aside with it. */
static void
refuse_entry(struct imp *im, const char *name, int receipt, const char *why)
{
	char pkt[NAME_MAX + 1];
	size_t n = strlen(name) - strlen(DIRHOP_ENV);

	if (receipt || n + strlen(DIRHOP_PKT) >= sizeof(pkt)) {
		refuse_file(im, name, why);
		return;
	}
	snprintf(pkt, sizeof(pkt), "%.*s%s", (int)n, name, DIRHOP_PKT);
	refuse_pair(im, name, pkt, why);
}

/* One ID.env or ID.rcpt. */
static void
import_one(struct imp *im, const char *name, int receipt)
{
	char path[PATH_MAX], want[NAME_MAX + 1], *buf = NULL;
	struct envelope e;
	struct stat ls, fs;
	ssize_t len;
	int fd = -1, r;

	memset(&e, 0, sizeof(e));
	if (snprintf(path, sizeof(path), "%s/%s", im->dir, name) >= (int)sizeof(path))
		return;
	if (lstat(path, &ls) < 0)
		return;			/* gone meanwhile (another importer) */
	if (!S_ISREG(ls.st_mode)) {
		refuse_entry(im, name, receipt, S_ISLNK(ls.st_mode) ? "a symbolic link (never followed)" :
			    "not a regular file (a FIFO, a device or a directory)");
		return;
	}
	if ((fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)) < 0 ||
	    fstat(fd, &fs) < 0 || fs.st_ino != ls.st_ino || !S_ISREG(fs.st_mode))
		goto out;
	/* one importer at a time per envelope (the daemon and shipctl) */
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		waiting(im, name, "another import holds it");
		goto out;
	}
	if (lstat(path, &ls) < 0 || ls.st_ino != fs.st_ino)
		goto out;		/* taken by the other importer */
	if (fs.st_size > DIRHOP_ENV_MAX) {
		refuse_entry(im, name, receipt, "larger than any envelope");
		goto out;
	}
	buf = xmalloc(fs.st_size + 1);
	if ((len = read_full(fd, buf, fs.st_size)) < 0)
		goto out;
	buf[len] = 0;
	if (!addressed_to(buf, im->cf->node))
		goto out;		/* for another node sharing the medium */
	if ((r = envelope_parse(im->cf, buf, len, &e)) == 0) {
		waiting(im, name, "incomplete envelope (still being copied?)");
		goto out;
	}
	if (r < 0) {
		refuse_entry(im, name, receipt, err_get());
		goto out;
	}
	snprintf(want, sizeof(want), "%s%s", e.id,
		 strcmp(e.kind, ENV_PACKET) == 0 ? DIRHOP_ENV : DIRHOP_RCPT);
	if (strcmp(name, want) != 0 || receipt != (strcmp(e.kind, ENV_RECEIPT) == 0)) {
		char why[NAME_MAX + 80];

		snprintf(why, sizeof(why), "renamed: this %s is %s", e.kind, want);
		refuse_entry(im, name, receipt, why);
		goto out;
	}
	if (receipt)
		take_receipt(im, name, &e);
	else
		take_packet(im, name, &e);
out:
	envelope_free(&e);
	free(buf);
	if (fd >= 0)
		close(fd);
}

static int
has_suffix(const char *s, const char *suf)
{
	size_t n = strlen(s), m = strlen(suf);

	return n > m && strcmp(s + n - m, suf) == 0;
}

static int
by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int
dirhop_import(const struct config *cf, const struct keys *me, const char *dir,
	      int (*once)(const char *key), struct import_stats *st)
{
	struct imp im = {cf, me, dir, once, st};
	struct strv names = {0};
	struct dirent *d;
	DIR *dp;

	memset(st, 0, sizeof(*st));
	dirhop_sweep_tmp(dir);
	if ((dp = opendir(dir)) == NULL) {
		err_set("import directory %s: %s", dir, strerror(errno));
		return -1;
	}
	while ((d = readdir(dp)) != NULL)
		if (d->d_name[0] != '.' &&
		    (has_suffix(d->d_name, DIRHOP_ENV) || has_suffix(d->d_name, DIRHOP_RCPT)))
			strv_add(&names, d->d_name);
	closedir(dp);
	if (names.n > 1)
		qsort(names.v, names.n, sizeof(names.v[0]), by_name);
	for (int i = 0; i < names.n; i++)
		import_one(&im, names.v[i], has_suffix(names.v[i], DIRHOP_RCPT));
	strv_free(&names);
	return 0;
}
