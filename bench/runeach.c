/*
 * runeach.c - what one submission costs: run a command once per file of a
 * directory, one after another, and take each child's CPU from wait4(), so
 * neither a shell loop nor this program is counted.
 *
 *   runeach DIR -- CMD ARG... {} ARG...
 *       every regular file of DIR (sorted, dot-files skipped) in turn,
 *       each "{}" argument replaced by its path; the command's output goes
 *       to /dev/null. Prints one line:
 *       "runeach N FAILED WALL_S CPU_S MAXRSS_KIB cpu_ms mean M median D
 *        min L wall_ms mean W"
 *       and exits 1 when a command failed.
 *
 * Never runs a command through a shell, never runs two at once.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static int
cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static int
cmp_s(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int
main(int argc, char **argv)
{
	char **names = NULL, **av, path[4096];
	double *cpu, t0, total = 0, min = 0;
	long maxrss = 0;
	size_t n = 0, cap = 0, i;
	int c, k, failed = 0, st, null;
	struct dirent *de;
	struct rusage ru;
	DIR *d;

	if (argc < 4 || strcmp(argv[2], "--") != 0) {
		fputs("usage: runeach DIR -- CMD ARG... {} ARG...\n", stderr);
		return 2;
	}
	if (!(d = opendir(argv[1]))) {
		fprintf(stderr, "runeach: %s: %s\n", argv[1], strerror(errno));
		return 2;
	}
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.' || (de->d_type != DT_REG && de->d_type != DT_UNKNOWN))
			continue;
		if (n == cap && !(names = realloc(names, (cap = cap ? cap * 2 : 256) * sizeof(*names))))
			return 2;
		if (!(names[n++] = strdup(de->d_name)))
			return 2;
	}
	closedir(d);
	if (!n)
		return 2;
	qsort(names, n, sizeof(*names), cmp_s);
	cpu = calloc(n, sizeof(*cpu));
	av = calloc((size_t)argc, sizeof(*av));
	null = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (!cpu || !av || null < 0)
		return 2;
	t0 = now_s();
	for (i = 0; i < n; i++) {
		pid_t pid;

		snprintf(path, sizeof(path), "%s/%s", argv[1], names[i]);
		for (c = 3, k = 0; c < argc; c++)
			av[k++] = strcmp(argv[c], "{}") == 0 ? path : argv[c];
		av[k] = NULL;
		pid = fork();
		if (pid < 0)
			return 2;
		if (pid == 0) {
			dup2(null, 1);
			dup2(null, 2);
			execvp(av[0], av);
			_exit(127);
		}
		if (wait4(pid, &st, 0, &ru) < 0)
			return 2;
		if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
			failed++;
		cpu[i] = (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e3 +
			 (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e3;
		total += cpu[i];
		if (ru.ru_maxrss > maxrss)
			maxrss = ru.ru_maxrss;
	}
	t0 = now_s() - t0;
	qsort(cpu, n, sizeof(*cpu), cmp_d);
	min = cpu[0];
	printf("runeach %zu %d %.3f %.3f %ld cpu_ms mean %.2f median %.2f min %.2f wall_ms mean %.2f\n",
	       n, failed, t0, total / 1e3, maxrss, total / n,
	       n % 2 ? cpu[n / 2] : (cpu[n / 2 - 1] + cpu[n / 2]) / 2, min, t0 * 1e3 / n);
	return failed != 0;
}
