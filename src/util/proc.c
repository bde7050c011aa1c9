/*
 * proc.c - process identity from /proc/PID/stat (see proc.h). The command
 * name in that line is in parentheses and may itself hold spaces or
 * parentheses: the fields are counted from the last ')'. self_pid's
 * memory is forgotten in every fork()ed child.
 */
#include "proc.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

unsigned long long
proc_start_time(pid_t pid)
{
	char path[64], line[1024], *p;
	unsigned long long start = 0;
	ssize_t n;
	int fd, field;

	if (pid <= 0)
		return 0;
	snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return 0;
	n = read(fd, line, sizeof(line) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	line[n] = 0;
	if ((p = strrchr(line, ')')) == NULL || p[1] != ' ')
		return 0;
	p += 2;
	/* field 3, the state: Z (zombie) and X (dead) are gone */
	if (*p == 'Z' || *p == 'X' || *p == 0)
		return 0;
	for (field = 3; field < 22 && p; field++)
		if ((p = strchr(p, ' ')) != NULL)
			p++;
	if (p == NULL)
		return 0;
	while (*p >= '0' && *p <= '9')
		start = start * 10 + (unsigned long long)(*p++ - '0');
	return *p == ' ' || *p == '\n' || *p == 0 ? start : 0;
}

static pid_t self;	/* 0: not asked yet (read by the extraction thread too) */

static void
forget_self(void)
{
	__atomic_store_n(&self, 0, __ATOMIC_RELAXED);
}

pid_t
self_pid(void)
{
	static int registered;
	pid_t pid = __atomic_load_n(&self, __ATOMIC_RELAXED);

	if (pid != 0)
		return pid;
	pid = getpid();
	if (!registered && pthread_atfork(NULL, NULL, forget_self) == 0)
		registered = 1;
	if (registered)		/* else never remembered: a child would inherit it */
		__atomic_store_n(&self, pid, __ATOMIC_RELAXED);
	return pid;
}
