/*
 * progress.c - per-transfer progress records (see progress.h). Written by
 * one sender, read by anyone; a record is one line padded to a fixed
 * length and rewritten with pwrite at offset 0, so a reader sees either
 * the old or the new line, and a torn read fails to parse and is skipped.
 */
#include "progress.h"
#include "bay.h"
#include "../util/clock.h"
#include "../util/log.h"
#include "../util/mem.h"
#include "../util/proc.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define REC_LEN		512
#define MIN_INTERVAL	0.2

struct progress {
	int fd;
	char path[PATH_MAX];
	struct progress_rec r;
	double last;
};

static void
write_rec(struct progress *p)
{
	char line[REC_LEN];
	int n;

	n = snprintf(line, sizeof(line), "%s %s %s %d %llu %llu %.3f %ld %llu\n", p->r.id,
		     p->r.peer, p->r.proto, p->r.port, (unsigned long long)p->r.done,
		     (unsigned long long)p->r.total, p->r.started, (long)p->r.pid,
		     p->r.pid_start);
	if (n < 0 || n >= REC_LEN)
		return;
	memset(line + n, ' ', REC_LEN - 1 - n);
	line[REC_LEN - 1] = '\n';
	if (pwrite(p->fd, line, REC_LEN, 0) < 0) {
		/* progress is best effort */
	}
	p->last = now_real();
}

struct progress *
progress_start(const char *bay, const char *id, const char *peer, const char *proto,
	       int port, uint64_t total)
{
	struct progress *p = xcalloc(1, sizeof(*p));
	char dir[PATH_MAX];

	if (bay_path(dir, sizeof(dir), bay, Q_INFLIGHT, NULL) < 0 ||
	    path_fmt(p->path, sizeof(p->path), "%s/%s", dir, id) < 0 ||
	    (mkdir(dir, 0755) < 0 && errno != EEXIST) ||
	    (p->fd = open(p->path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644)) < 0) {
		free(p);
		return NULL;
	}
	snprintf(p->r.id, sizeof(p->r.id), "%s", id);
	snprintf(p->r.peer, sizeof(p->r.peer), "%s", peer);
	snprintf(p->r.proto, sizeof(p->r.proto), "%s", proto);
	p->r.port = port;
	p->r.total = total;
	p->r.started = now_real();
	p->r.pid = getpid();
	p->r.pid_start = proc_start_time(p->r.pid);
	write_rec(p);
	return p;
}

void
progress_update(struct progress *p, uint64_t done)
{
	if (p == NULL)
		return;
	p->r.done = done;
	if (now_real() - p->last >= MIN_INTERVAL || done == p->r.total)
		write_rec(p);
}

void
progress_end(struct progress *p)
{
	if (p == NULL)
		return;
	close(p->fd);
	unlink(p->path);
	free(p);
}

static int
parse_rec(const char *line, struct progress_rec *r)
{
	unsigned long long done, total;
	long pid;

	memset(r, 0, sizeof(*r));
	if (sscanf(line, "%127s %127s %7s %d %llu %llu %lf %ld %llu", r->id, r->peer, r->proto,
		   &r->port, &done, &total, &r->started, &pid, &r->pid_start) != 9)
		return -1;
	r->done = done;
	r->total = total;
	r->pid = pid;
	return 0;
}

static int
read_path(const char *path, struct progress_rec *r)
{
	char line[REC_LEN + 1];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = pread(fd, line, REC_LEN, 0);
	close(fd);
	if (n <= 0)
		return -1;
	line[n] = 0;
	if (parse_rec(line, r) < 0)
		return -1;
	/* its process gone, a zombie, or its PID another process's now */
	if (r->pid_start == 0 || proc_start_time(r->pid) != r->pid_start)
		return -1;
	return 0;
}

int
progress_read(const char *bay, const char *id, struct progress_rec *r)
{
	char path[PATH_MAX];

	if (bay_path(path, sizeof(path), bay, Q_INFLIGHT, id) < 0)
		return -1;
	return read_path(path, r);
}

static void
scan(const char *bay, void (*fn)(void *, const struct progress_rec *), void *arg, int clean)
{
	char dir[PATH_MAX], path[PATH_MAX];
	struct progress_rec r;
	struct dirent *d;
	DIR *dp;

	if (bay_path(dir, sizeof(dir), bay, Q_INFLIGHT, NULL) < 0 || (dp = opendir(dir)) == NULL)
		return;
	while ((d = readdir(dp)) != NULL) {
		if (d->d_name[0] == '.' || path_fmt(path, sizeof(path), "%s/%s", dir, d->d_name) < 0)
			continue;
		if (read_path(path, &r) == 0) {
			if (fn)
				fn(arg, &r);
		} else if (clean)
			unlink(path);
	}
	closedir(dp);
}

void
progress_scan(const char *bay, void (*fn)(void *, const struct progress_rec *), void *arg)
{
	scan(bay, fn, arg, 0);
}

void
progress_clean(const char *bay)
{
	scan(bay, NULL, NULL, 1);
}
