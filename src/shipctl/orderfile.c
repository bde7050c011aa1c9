/*
 * orderfile.c - MultiSite's shipping order files (orderfile.h): format,
 * write atomically, read strictly. Touches no bay.
 */
#include "orderfile.h"
#include "../queue/order.h"
#include "../util/log.h"
#include "../util/safefile.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void
ofile_free(struct ofile *f)
{
	free(f->data);
	free(f->name);
	free(f->sclass);
	strv_free(&f->dests);
	free(f->notify);
	free(f->comment);
	memset(f, 0, sizeof(*f));
}

static void
put_text(struct sbuf *b, const char *key, const char *val)
{
	if (val == NULL)
		return;
	sbuf_printf(b, "%s: ", key);
	order_text_escape(b, val);
	sbuf_puts(b, "\n");
}

int
ofile_write(const char *path, const struct ofile *f)
{
	char dir[PATH_MAX];
	const char *slash = strrchr(path, '/');
	struct sbuf b;
	int rc;

	if (slash == NULL)
		snprintf(dir, sizeof(dir), ".");
	else if ((size_t)(slash - path) >= sizeof(dir)) {
		err_set("%s: path too long", path);
		return -1;
	} else
		snprintf(dir, sizeof(dir), "%.*s", slash == path ? 1 : (int)(slash - path), path);
	if (slash && slash[1] == 0) {
		err_set("%s: a directory, not an order file name", path);
		return -1;
	}
	sbuf_init(&b);
	sbuf_puts(&b, OFILE_MAGIC);
	put_text(&b, "data", f->data);
	put_text(&b, "name", f->name);
	sbuf_printf(&b, "class: %s\n", f->sclass);
	for (int i = 0; i < f->dests.n; i++)
		sbuf_printf(&b, "dest: %s\n", f->dests.v[i]);
	if (f->expires)
		sbuf_printf(&b, "expires: %lld\n", (long long)f->expires);
	put_text(&b, "notify", f->notify);
	put_text(&b, "comment", f->comment);
	sbuf_printf(&b, "copy: %d\nend\n", f->copy ? 1 : 0);
	rc = safe_write(dir, slash ? slash + 1 : path, b.s, b.len, 0644);
	sbuf_free(&b);
	return rc;
}

int
ofile_is(const char *path)
{
	char head[sizeof(OFILE_MAGIC)];
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	ssize_t n;

	if (fd < 0)
		return 0;
	n = read_full(fd, head, sizeof(head) - 1);
	close(fd);
	return n == (ssize_t)sizeof(head) - 1 && memcmp(head, OFILE_MAGIC, n) == 0;
}

/* One "key: value" line into f; -1 with err_set. */
static int
field(struct ofile *f, const char *key, const char *val, size_t vlen, int line)
{
	char **text = strcmp(key, "data") == 0 ? &f->data : strcmp(key, "name") == 0 ? &f->name
		    : strcmp(key, "notify") == 0 ? &f->notify
		    : strcmp(key, "comment") == 0 ? &f->comment : NULL;
	char *end;

	if (text) {
		if (*text) {
			err_set("line %d: %s given twice", line, key);
			return -1;
		}
		if ((*text = order_text_unescape(val, vlen)) == NULL) {
			err_set("line %d: %s: %s", line, key, err_get());
			return -1;
		}
		return 0;
	}
	if (strcmp(key, "dest") == 0 || strcmp(key, "class") == 0) {
		if (!order_name_valid(val)) {
			err_set("line %d: bad %s name \"%.64s\"", line, key, val);
			return -1;
		}
		if (strcmp(key, "dest") == 0) {
			if (strv_has(&f->dests, val)) {
				err_set("line %d: destination %s given twice", line, val);
				return -1;
			}
			strv_add(&f->dests, val);
		} else if (f->sclass) {
			err_set("line %d: class given twice", line);
			return -1;
		} else
			f->sclass = xstrdup(val);
		return 0;
	}
	if (strcmp(key, "expires") == 0) {
		long long t;

		errno = 0;
		t = strtoll(val, &end, 10);
		if (errno || *end || end == val || t <= 0 || f->expires) {
			err_set("line %d: bad expires \"%.32s\" (want Unix seconds, once)", line, val);
			return -1;
		}
		f->expires = (time_t)t;
		return 0;
	}
	if (strcmp(key, "copy") == 0) {
		if (strcmp(val, "0") != 0 && strcmp(val, "1") != 0) {
			err_set("line %d: bad copy \"%.8s\" (want 0 or 1)", line, val);
			return -1;
		}
		f->copy = val[0] == '1';
		return 0;
	}
	err_set("line %d: unknown key \"%.32s\"", line, key);
	return -1;
}

int
ofile_read(const char *path, struct ofile *f)
{
	size_t len;
	char *buf = read_file(path, OFILE_MAX, &len), *p, *nl;
	int line = 1, ended = 0, rc = -1;

	memset(f, 0, sizeof(*f));
	if (buf == NULL) {
		err_set("%s: %s", path, err_get());
		return -1;
	}
	if (len < strlen(OFILE_MAGIC) || memcmp(buf, OFILE_MAGIC, strlen(OFILE_MAGIC)) != 0) {
		err_set("%s: not a shipd order file (no \"%.*s\" line)", path,
			(int)strlen(OFILE_MAGIC) - 1, OFILE_MAGIC);
		goto out;
	}
	if (memchr(buf, 0, len)) {
		err_set("%s: a NUL byte in an order file", path);
		goto out;
	}
	for (p = buf + strlen(OFILE_MAGIC); *p; p = nl + 1) {
		char *colon;

		line++;
		if ((nl = strchr(p, '\n')) == NULL) {
			err_set("%s: line %d: no end of line", path, line);
			goto out;
		}
		*nl = 0;
		if (ended) {
			err_set("%s: line %d: something after \"end\"", path, line);
			goto out;
		}
		if (strcmp(p, "end") == 0) {
			ended = 1;
			continue;
		}
		if ((colon = strstr(p, ": ")) == NULL) {
			err_set("%s: line %d: want \"key: value\"", path, line);
			goto out;
		}
		*colon = 0;
		if (field(f, p, colon + 2, nl - colon - 2, line) < 0) {
			err_set("%s: %s", path, err_get());
			goto out;
		}
	}
	if (!ended || f->data == NULL || f->sclass == NULL || f->dests.n == 0) {
		err_set("%s: incomplete order file (%s)", path, !ended ? "no \"end\" line" :
			f->data == NULL ? "no data" : f->sclass == NULL ? "no class" : "no dest");
		goto out;
	}
	rc = 0;
out:
	free(buf);
	if (rc < 0)
		ofile_free(f);
	return rc;
}
