/*
 * program.c - run a helper program (program.h): fork, exec without a
 * shell, wait at most the timeout, then kill it.
 */
#include "program.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

static program_runner runner;
static void *runner_ctx;

void
program_set_runner(program_runner fn, void *ctx)
{
	runner = fn;
	runner_ctx = ctx;
}

int
run_program(char *const argv[], int timeout_s)
{
	pid_t pid;
	int status;

	if (runner)
		return runner(runner_ctx, argv, timeout_s);
	if ((pid = fork()) < 0)
		return -1;
	if (pid == 0) {
		int fd = open("/dev/null", O_RDONLY);

		if (fd >= 0)
			dup2(fd, 0);
		execv(argv[0], argv);
		_exit(127);
	}
	for (int i = 0; i < timeout_s * 10; i++) {
		pid_t r = waitpid(pid, &status, WNOHANG);

		if (r == pid)
			return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
		usleep(100000);
	}
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	return -1;
}
