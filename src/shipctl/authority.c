/*
 * authority.c - "shipctl authority init|revoke|install" and "shipctl
 * certify": a network's authority, kept in a directory of its own on a
 * host that is offline by habit (shipd-cert(5)):
 *
 *   DIR/authority.key    its secret key (0600; never overwritten)
 *   DIR/authority.pub    the AUTHORITY line's key
 *   DIR/serial           the next certificate serial
 *   DIR/issued           one line per certificate issued
 *   DIR/revocations      the newest revocation list it signed
 *
 * init, certify and revoke touch only DIR and the files named; install
 * runs on a node: it applies a list and queues it for every neighbour.
 * DIR is --dir, else $SHIPD_AUTHORITY, else ./authority.
 */
#include "shipctl.h"
#include "../crypto/cert.h"
#include "../global/flood.h"
#include "../trust/trust.h"
#include "../util/log.h"
#include "../util/safefile.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define DEFAULT_VALID_DAYS	365
#define MAX_VALID_DAYS		3650
#define CLOCK_SLACK		300	/* not-before this far back: clocks differ */

static const char *
auth_dir(const char *opt)
{
	const char *e = getenv("SHIPD_AUTHORITY");

	return opt ? opt : e && *e ? e : "authority";
}

static int
auth_path(char *buf, size_t size, const char *dir, const char *name)
{
	return path_fmt(buf, size, "%s/%s", dir, name);
}

static struct keys *
auth_load(const char *dir)
{
	char path[PATH_MAX];
	struct keys *k;

	if (auth_path(path, sizeof(path), dir, "authority.key") < 0 || keys_load(path, &k) < 0) {
		fprintf(stderr, "shipctl: authority: %s (create one with: shipctl authority init "
			"--dir %s)\n", err_get(), dir);
		return NULL;
	}
	return k;
}

static int
auth_init(const char *dir)
{
	char path[PATH_MAX], tok[PUBKEY_STRLEN + 1], hex[AUTH_ID_HEX];
	uint8_t id[AUTH_ID_LEN];
	struct keys *k;

	if (mkdirs(dir, 0700) < 0 || auth_path(path, sizeof(path), dir, "authority.key") < 0) {
		fprintf(stderr, "shipctl: authority init: %s: %s\n", dir, err_get());
		return EX_DATAERR;
	}
	if (keys_generate(path, &k) < 0) {
		fprintf(stderr, "shipctl: authority init: %s\n", err_get());
		return EX_DATAERR;
	}
	pubkey_format(&k->pub, tok);
	strcat(tok, "\n");
	if (safe_write(dir, "authority.pub", tok, strlen(tok), 0644) < 0 ||
	    safe_write(dir, "serial", "1\n", 2, 0600) < 0) {
		fprintf(stderr, "shipctl: authority init: %s\n", err_get());
		keys_free(k);
		return EX_TEMPFAIL;
	}
	cert_authority_id(k->pub.sign, id);
	cert_id_hex(id, hex);
	fprintf(stderr, "shipctl: created authority %s in %s; authority.key signs every "
		"certificate: keep it offline, mode 0600, and back it up. Put this line in "
		"every node's shipping.conf:\n", hex, dir);
	tok[strlen(tok) - 1] = 0;
	printf("AUTHORITY %s\n", tok);
	keys_free(k);
	return EX_OK;
}

/* Take the next serial under an exclusive lock of DIR/serial. */
static int
next_serial(const char *dir, uint64_t *out)
{
	char path[PATH_MAX], buf[32];
	ssize_t n;
	int fd, rc = -1;

	if (auth_path(path, sizeof(path), dir, "serial") < 0 ||
	    (fd = open(path, O_RDWR | O_CLOEXEC)) < 0) {
		fprintf(stderr, "shipctl: authority %s: serial: %s\n", dir, strerror(errno));
		return -1;
	}
	if (flock(fd, LOCK_EX) == 0 && (n = pread(fd, buf, sizeof(buf) - 1, 0)) > 0) {
		buf[n] = 0;
		*out = strtoull(buf, NULL, 10);
		n = snprintf(buf, sizeof(buf), "%" PRIu64 "\n", *out + 1);
		if (*out > 0 && pwrite(fd, buf, n, 0) == n && ftruncate(fd, n) == 0 && fsync(fd) == 0)
			rc = 0;
	}
	if (rc < 0)
		fprintf(stderr, "shipctl: authority %s: cannot take a serial from %s\n", dir, path);
	close(fd);
	return rc;
}

/* The first word of a NODE.pub file (or the token itself). */
static int
read_pub(const char *arg, struct pubkey *pk)
{
	char *text;

	if (strncmp(arg, PUBKEY_PREFIX, strlen(PUBKEY_PREFIX)) == 0)
		return pubkey_parse(arg, pk);
	if ((text = read_file(arg, 4096, NULL)) == NULL)
		return -1;
	text[strcspn(text, " \t\r\n")] = 0;
	if (pubkey_parse(text, pk) < 0) {
		err_set("%s: %s", arg, err_get());
		free(text);
		return -1;
	}
	free(text);
	return 0;
}

VERB(certify)
{
	const char *dir = NULL, *name = NULL, *out = NULL, *pubfile = NULL;
	long days = DEFAULT_VALID_DAYS;
	int role = CERT_NODE;
	struct keys *ak;
	struct cert ct;
	char outbuf[PATH_MAX], *text, line[512], tok[PUBKEY_STRLEN];
	time_t now = time(NULL);

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (strcmp(a, "--name") == 0 && v)
			name = argv[++i];
		else if (strcmp(a, "--valid") == 0 && v) {
			char *end;

			days = strtol(argv[++i], &end, 10);
			if (*end || days < 1 || days > MAX_VALID_DAYS) {
				fprintf(stderr, "shipctl: certify: bad --valid \"%s\" (want days, 1..%d)\n",
					v, MAX_VALID_DAYS);
				return EX_USAGE;
			}
		} else if (strcmp(a, "--role") == 0 && v) {
			if ((role = cert_role_parse(argv[++i])) < 0) {
				fprintf(stderr, "shipctl: certify: bad --role \"%s\" (want relay or node)\n", v);
				return EX_USAGE;
			}
		} else if (strcmp(a, "--dir") == 0 && v)
			dir = argv[++i];
		else if (strcmp(a, "-o") == 0 && v)
			out = argv[++i];
		else if (a[0] != '-' && pubfile == NULL)
			pubfile = a;
		else
			goto usage;
	}
	if (pubfile == NULL || name == NULL)
		goto usage;
	if (!cert_name_ok(name)) {
		fprintf(stderr, "shipctl: certify: bad node name \"%s\"\n", name);
		return EX_DATAERR;
	}
	memset(&ct, 0, sizeof(c));
	if (read_pub(pubfile, &ct.key) < 0) {
		fprintf(stderr, "shipctl: certify: %s\n", err_get());
		return EX_NOINPUT;
	}
	dir = auth_dir(dir);
	if ((ak = auth_load(dir)) == NULL)
		return EX_CONFIG;
	snprintf(ct.name, sizeof(ct.name), "%s", name);
	ct.role = role;
	ct.not_before = (uint64_t)now - CLOCK_SLACK;
	ct.not_after = (uint64_t)now + (uint64_t)days * 86400;
	if (next_serial(dir, &ct.serial) < 0 || cert_sign(&ct, ak) < 0) {
		fprintf(stderr, "shipctl: certify: %s\n", err_get());
		keys_free(ak);
		return EX_TEMPFAIL;
	}
	keys_free(ak);
	if (out == NULL) {
		snprintf(outbuf, sizeof(outbuf), "%s.cert", name);
		out = outbuf;
	}
	text = cert_file_text(&ct);
	{
		char *copy = xstrdup(out), *slash = strrchr(copy, '/');
		const char *odir = ".", *oname = copy;
		int rc;

		if (slash) {
			*slash = 0;
			odir = slash == copy ? "/" : copy;
			oname = slash + 1;
		}
		rc = safe_write(odir, oname, text, strlen(text), 0644);
		free(copy);
		if (rc < 0) {
			fprintf(stderr, "shipctl: certify: %s: %s\n", out, err_get());
			free(text);
			return EX_TEMPFAIL;
		}
	}
	free(text);
	pubkey_format(&ct.key, tok);
	snprintf(line, sizeof(line), "%" PRIu64 " %s %s %" PRIu64 " %" PRIu64 " %s\n", ct.serial,
		 ct.name, cert_role_name(ct.role), ct.not_before, ct.not_after, tok);
	{
		char ipath[PATH_MAX];
		int fd;

		if (auth_path(ipath, sizeof(ipath), dir, "issued") == 0 &&
		    (fd = open(ipath, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600)) >= 0) {
			if (write_all(fd, line, strlen(line)) < 0 || fsync(fd) < 0)
				fprintf(stderr, "shipctl: certify: %s: %s\n", ipath, strerror(errno));
			close(fd);
		}
	}
	fprintf(stderr, "shipctl: certified %s (role %s, serial %" PRIu64 ", %ld days); "
		"install it on %s as its CERT-FILE\n", ct.name, cert_role_name(ct.role), ct.serial,
		days, ct.name);
	printf("%s\n", out);
	return EX_OK;
usage:
	fprintf(stderr, "usage: shipctl certify NODE.pub --name NODE [--valid DAYS] "
		"[--role relay|node] [--dir DIR] [-o FILE]\n");
	return EX_USAGE;
}

/* The list DIR/revocations, or an empty one (serial 0). */
static int
load_list(const char *dir, const struct keys *ak, struct revlist *rl)
{
	char path[PATH_MAX], *text;
	size_t len;

	revlist_init(rl);
	if (auth_path(path, sizeof(path), dir, "revocations") < 0)
		return -1;
	if (access(path, F_OK) < 0)
		return 0;
	if ((text = read_file(path, REV_MAX_SIZE, &len)) == NULL ||
	    revlist_parse(text, len, rl) < 0 || revlist_verify(rl, text, ak->pub.sign) < 0) {
		fprintf(stderr, "shipctl: authority revoke: %s: %s\n", path, err_get());
		free(text);
		return -1;
	}
	free(text);
	return 0;
}

/* The last serial DIR/serial handed out (its next, less one). */
static uint64_t
last_serial(const char *dir)
{
	char path[PATH_MAX], *t;
	uint64_t v = 0;

	if (auth_path(path, sizeof(path), dir, "serial") == 0 &&
	    (t = read_file(path, 64, NULL)) != NULL) {
		v = strtoull(t, NULL, 10);
		free(t);
	}
	return v ? v - 1 : 0;
}

static int
auth_revoke(const char *dir, const char *what)
{
	struct rev_entry e;
	struct revlist rl;
	struct keys *ak;
	struct cert c;
	char desc[200], path[PATH_MAX], *text;
	size_t len, n = strlen(what);
	int rc = EX_OK;

	if ((ak = auth_load(dir)) == NULL)
		return EX_CONFIG;
	memset(&e, 0, sizeof(e));
	if (strncmp(what, PUBKEY_PREFIX, strlen(PUBKEY_PREFIX)) == 0) {
		struct pubkey pk;

		if (pubkey_parse(what, &pk) < 0)
			goto bad;
		e.kind = REV_KEY;
		memcpy(e.key, pk.sign, sizeof(e.key));
	} else if (n > 5 && strcmp(what + n - 5, ".cert") == 0 && access(what, F_OK) == 0) {
		if ((text = read_file(what, 4096, &len)) == NULL || cert_file_parse(text, len, &c) < 0) {
			free(text);
			goto bad;
		}
		free(text);
		if (cert_verify(&c, ak->pub.sign) < 0)
			goto bad;
		e.kind = REV_SERIAL;
		e.serial = c.serial;
	} else if (cert_name_ok(what)) {
		e.kind = REV_NODE;
		snprintf(e.name, sizeof(e.name), "%s", what);
		e.serial = last_serial(dir);
	} else {
		err_set("\"%s\" is not a node name, a shipd1: key or a certificate file", what);
		goto bad;
	}
	if (load_list(dir, ak, &rl) < 0) {
		keys_free(ak);
		return EX_DATAERR;
	}
	revlist_add(&rl, &e);
	rl.serial++;
	rl.created = (uint64_t)time(NULL);
	if ((text = revlist_sign(&rl, ak, &len)) == NULL ||
	    safe_write(dir, "revocations", text, len, 0644) < 0) {
		fprintf(stderr, "shipctl: authority revoke: %s\n", err_get());
		rc = EX_TEMPFAIL;
	} else {
		rev_entry_str(&e, desc, sizeof(desc));
		auth_path(path, sizeof(path), dir, "revocations");
		fprintf(stderr, "shipctl: revoked %s: revocation list serial %" PRIu64 " (%d "
			"entr%s); install it on any node (shipctl authority install %s): the "
			"network passes it on\n", desc, rl.serial, rl.n, rl.n == 1 ? "y" : "ies", path);
		printf("%s\n", path);
	}
	free(text);
	revlist_free(&rl);
	keys_free(ak);
	return rc;
bad:
	fprintf(stderr, "shipctl: authority revoke: %s\n", err_get());
	keys_free(ak);
	return EX_DATAERR;
}

static int
auth_install(struct ctl *c, const char *file)
{
	struct config *cf;
	struct keys *me;
	struct revlist rl;
	struct strv to = {0};
	char *text, hex[AUTH_ID_HEX];
	uint64_t have;
	size_t len;
	int r, sent;

	c->keep_root = 1;	/* the key first, then the spool as USER */
	cf = ctl_config(c);
	if ((text = read_file(file, REV_MAX_SIZE, &len)) == NULL) {
		fprintf(stderr, "shipctl: authority install: %s\n", err_get());
		return EX_NOINPUT;
	}
	if (trust_revlist_check(cf, text, len, &rl) < 0) {
		fprintf(stderr, "shipctl: authority install: %s: %s\n", file, err_get());
		free(text);
		return EX_DATAERR;
	}
	if (trust_identity(cf, &me) < 0) {
		fprintf(stderr, "shipctl: authority install: %s\n", err_get());
		free(text);
		revlist_free(&rl);
		return EX_CONFIG;
	}
	config_add_self(cf, &me->pub);
	ctl_drop(c);
	cert_id_hex(rl.authority, hex);
	if (!trust_revlist_newer(cf, &rl, &have)) {
		fprintf(stderr, "shipctl: authority install: this node holds serial %" PRIu64
			" of authority %s already; %s (serial %" PRIu64 ") changes nothing\n", have,
			hex, file, rl.serial);
		r = EX_OK;
		goto out;
	}
	flood_targets(cf, NULL, &to);
	flood_drop_revoked(cf, &rl, &to);
	sent = flood_queue(cf, me, FLOOD_REVOCATION, "revocation-list", text, len, &to);
	if (trust_revlist_apply(cf, &rl, text, len, &have) < 0) {
		fprintf(stderr, "shipctl: authority install: %s\n", err_get());
		r = EX_TEMPFAIL;
		goto out;
	}
	fprintf(stderr, "shipctl: applied revocation list serial %" PRIu64 " of authority %s "
		"(%d entr%s); queued for %d of %d neighbour%s\n", rl.serial, hex, rl.n,
		rl.n == 1 ? "y" : "ies", sent, to.n, to.n == 1 ? "" : "s");
	r = EX_OK;
out:
	strv_free(&to);
	keys_free(me);
	revlist_free(&rl);
	free(text);
	return r;
}

VERB(authority)
{
	const char *dir = NULL, *sub = argc > 1 ? argv[1] : "";
	int i = 2;

	if (i + 1 < argc && strcmp(argv[i], "--dir") == 0) {
		dir = argv[i + 1];
		i += 2;
	}
	if (strcmp(sub, "init") == 0 && i == argc)
		return auth_init(auth_dir(dir));
	if (strcmp(sub, "revoke") == 0 && i + 1 == argc)
		return auth_revoke(auth_dir(dir), argv[i]);
	if (strcmp(sub, "install") == 0 && i + 1 == argc && dir == NULL)
		return auth_install(c, argv[i]);
	fprintf(stderr, "usage: shipctl authority init [--dir DIR]\n"
		"       shipctl authority revoke [--dir DIR] NODE|shipd1:KEY|FILE.cert\n"
		"       shipctl authority install FILE\n");
	return EX_USAGE;
}
