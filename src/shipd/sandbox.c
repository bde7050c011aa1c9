/*
 * sandbox.c - seccomp filters (libseccomp) for the processes that read
 * network bytes or hold the keys: an allow list of the system calls each
 * role makes, everything else trapped. No role may exec, ptrace, mount,
 * change its identity, load a module or open a socket of a new kind; a
 * signal may go only to itself. A trapped call is logged by the process
 * (the call's name) and the process dies of SIGSYS, which the master logs
 * and treats as any worker that died: its order is queued again, a
 * partial transfer resumes on the next connection.
 *
 *   SANDBOX_KEYS      the key process: its sockets, memory, time, the log
 *   SANDBOX_RECEIVER  + files (the bays), the accepted socket
 *   SANDBOX_SENDER    + new sockets (inet, inet6 and unix), connect, bind,
 *                     threads; a program to run goes to its runner
 *                     (runner.c), which is not filtered and runs only the
 *                     programs the configuration names
 *
 * Under valgrind (RUNNING_ON_VALGRIND) no filter is loaded, with a log
 * line saying so: valgrind makes system calls of its own on the
 * program's behalf, which no allow list of ours can foresee, and
 * tests/scenario/valgrind.sh checks memory, not the filter (privsep.sh
 * does). Nobody can make a daemon think it runs under valgrind without
 * running it under valgrind.
 *
 * sandbox_test_hook is compiled only into the test build (make tests:
 * build/tests/shipd-hooks, -DSHIPD_TEST_HOOKS): never in bin/shipd.
 */
#include "shipd.h"
#include "../util/log.h"

#include <errno.h>
#include <fcntl.h>
#include <seccomp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sched.h>
#include <unistd.h>
#if defined(__has_include)
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#endif
#endif
#ifndef RUNNING_ON_VALGRIND
#define RUNNING_ON_VALGRIND 0
#endif

/* every role: memory, time, signals to itself, the log, its descriptors */
static const int common[] = {
	SCMP_SYS(read), SCMP_SYS(write), SCMP_SYS(readv), SCMP_SYS(writev),
	SCMP_SYS(pread64), SCMP_SYS(pwrite64), SCMP_SYS(close), SCMP_SYS(fstat),
	SCMP_SYS(newfstatat), SCMP_SYS(statx), SCMP_SYS(lseek), SCMP_SYS(brk),
	SCMP_SYS(mmap), SCMP_SYS(munmap), SCMP_SYS(mremap), SCMP_SYS(mprotect),
	SCMP_SYS(madvise), SCMP_SYS(futex), SCMP_SYS(exit), SCMP_SYS(exit_group),
	SCMP_SYS(rt_sigreturn), SCMP_SYS(rt_sigaction), SCMP_SYS(rt_sigprocmask),
	SCMP_SYS(getrandom), SCMP_SYS(clock_gettime), SCMP_SYS(clock_nanosleep),
	SCMP_SYS(nanosleep), SCMP_SYS(gettimeofday), SCMP_SYS(time), SCMP_SYS(getpid),
	SCMP_SYS(gettid), SCMP_SYS(getppid), SCMP_SYS(getuid), SCMP_SYS(geteuid),
	SCMP_SYS(getgid), SCMP_SYS(getegid), SCMP_SYS(poll), SCMP_SYS(ppoll),
	SCMP_SYS(fcntl), SCMP_SYS(restart_syscall), SCMP_SYS(sched_yield),
	SCMP_SYS(set_robust_list), SCMP_SYS(rseq), SCMP_SYS(sendto), SCMP_SYS(recvfrom),
	SCMP_SYS(sendmsg), SCMP_SYS(recvmsg), SCMP_SYS(connect), SCMP_SYS(dup),
	SCMP_SYS(dup2), SCMP_SYS(dup3), SCMP_SYS(pipe2), SCMP_SYS(getsockopt),
	SCMP_SYS(setsockopt), SCMP_SYS(getsockname), SCMP_SYS(getpeername),
	SCMP_SYS(shutdown), SCMP_SYS(sysinfo), SCMP_SYS(uname), SCMP_SYS(openat),
	SCMP_SYS(open), SCMP_SYS(access), SCMP_SYS(faccessat), SCMP_SYS(faccessat2),
	SCMP_SYS(umask), SCMP_SYS(epoll_create1), SCMP_SYS(epoll_ctl), SCMP_SYS(epoll_wait),
	SCMP_SYS(epoll_pwait), SCMP_SYS(select), SCMP_SYS(pselect6), SCMP_SYS(ioctl),
	SCMP_SYS(getrlimit), SCMP_SYS(prlimit64), SCMP_SYS(sigaltstack), SCMP_SYS(alarm),
	SCMP_SYS(setitimer), SCMP_SYS(timerfd_create), SCMP_SYS(timerfd_settime),
	SCMP_SYS(getrusage), SCMP_SYS(times), SCMP_SYS(sched_getaffinity), SCMP_SYS(getcpu),
	SCMP_SYS(membarrier), SCMP_SYS(clock_getres), SCMP_SYS(eventfd2), SCMP_SYS(mlock),
	SCMP_SYS(munlock), SCMP_SYS(mincore), SCMP_SYS(getdents64), SCMP_SYS(sendmmsg),
	SCMP_SYS(recvmmsg),
};

/* the bays: files, directories, locks, durability, room */
static const int files[] = {
	SCMP_SYS(unlink), SCMP_SYS(unlinkat), SCMP_SYS(rename), SCMP_SYS(renameat),
	SCMP_SYS(renameat2), SCMP_SYS(mkdir), SCMP_SYS(mkdirat), SCMP_SYS(rmdir),
	SCMP_SYS(link), SCMP_SYS(linkat), SCMP_SYS(ftruncate), SCMP_SYS(truncate),
	SCMP_SYS(fsync), SCMP_SYS(fdatasync), SCMP_SYS(sync_file_range), SCMP_SYS(flock),
	SCMP_SYS(getdents64), SCMP_SYS(fchmod), SCMP_SYS(fchmodat), SCMP_SYS(chmod),
	SCMP_SYS(utimensat), SCMP_SYS(futimesat), SCMP_SYS(statfs), SCMP_SYS(fstatfs),
	SCMP_SYS(readlink), SCMP_SYS(readlinkat), SCMP_SYS(stat), SCMP_SYS(lstat),
	SCMP_SYS(fallocate), SCMP_SYS(fadvise64), SCMP_SYS(copy_file_range),
	SCMP_SYS(sendfile), SCMP_SYS(getcwd), SCMP_SYS(fchdir), SCMP_SYS(chdir),
	SCMP_SYS(fchown), SCMP_SYS(fchownat), SCMP_SYS(fgetxattr), SCMP_SYS(fsetxattr),
	SCMP_SYS(flistxattr), SCMP_SYS(symlinkat), SCMP_SYS(memfd_create),
	SCMP_SYS(inotify_init1), SCMP_SYS(inotify_add_watch), SCMP_SYS(inotify_rm_watch),
	SCMP_SYS(wait4), SCMP_SYS(waitid),
};

/* a sender: new connections */
static const int sender[] = {
	SCMP_SYS(bind), SCMP_SYS(getpriority),
};

/*
 * Threads (the packet reader and writer, UDP's pacing) but no new process:
 * clone only with CLONE_THREAD; clone3, whose flags a filter cannot see,
 * answers ENOSYS and glibc falls back to clone.
 */
static int
threads_only(scmp_filter_ctx c)
{
	return seccomp_rule_add(c, SCMP_ACT_ALLOW, SCMP_SYS(clone), 1,
				SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_THREAD, CLONE_THREAD)) < 0 ||
	       seccomp_rule_add(c, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0) < 0 ? -1 : 0;
}

/* socket(family, type): the only new sockets a role may make */
static int
sock(scmp_filter_ctx c, int family, int type)
{
	if (type == 0)
		return seccomp_rule_add(c, SCMP_ACT_ALLOW, SCMP_SYS(socket), 1,
					SCMP_A0(SCMP_CMP_EQ, family));
	return seccomp_rule_add(c, SCMP_ACT_ALLOW, SCMP_SYS(socket), 2,
				SCMP_A0(SCMP_CMP_EQ, family), SCMP_A1(SCMP_CMP_MASKED_EQ, 0xf, type));
}

static void
trapped(int sig, siginfo_t *si, void *uc)
{
	char line[160], *name;
	(void)sig;
	(void)uc;
	name = seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, si->si_syscall);
	snprintf(line, sizeof(line), "forbidden system call %s (%d): killed by the filter",
		 name ? name : "?", si->si_syscall);
	msg_warnx("%s", line);
	raise(SIGSYS);		/* SA_RESETHAND | SA_NODEFER: this one kills */
	_exit(128 + SIGSYS);
}

static int
allow(scmp_filter_ctx c, const int *calls, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (calls[i] >= 0 && seccomp_rule_add(c, SCMP_ACT_ALLOW, calls[i], 0) < 0)
			return -1;
	return 0;
}

void
sandbox_enter(enum sandbox_role r)
{
	scmp_filter_ctx c;
	struct sigaction sa = {.sa_sigaction = trapped,
			      .sa_flags = SA_SIGINFO | SA_RESETHAND | SA_NODEFER};
	pid_t self = getpid();
	int rc = -1;

	if (RUNNING_ON_VALGRIND) {
		msg_info("running under valgrind: no seccomp filter for this %s",
			 r == SANDBOX_KEYS ? "key process" : r == SANDBOX_RECEIVER ? "receiver" :
			 "sender");
		return;
	}
	if ((c = seccomp_init(SCMP_ACT_TRAP)) == NULL)
		msg_fatal("seccomp_init failed");
	sigaction(SIGSYS, &sa, NULL);
	if (allow(c, common, sizeof(common) / sizeof(common[0])) < 0 ||
	    /* signals: to this process only (raise, and the trap's own death) */
	    seccomp_rule_add(c, SCMP_ACT_ALLOW, SCMP_SYS(kill), 1, SCMP_A0(SCMP_CMP_EQ, self)) < 0 ||
	    seccomp_rule_add(c, SCMP_ACT_ALLOW, SCMP_SYS(tgkill), 1, SCMP_A0(SCMP_CMP_EQ, self)) < 0 ||
	    /* sockets: the log's (unix datagram) for everyone; others of the
	     * unix kind (nscd, syslog's stream fallback) and netlink
	     * (getaddrinfo's AI_ADDRCONFIG probe) fail, and the caller falls back */
	    sock(c, AF_UNIX, SOCK_DGRAM) < 0 ||
	    seccomp_rule_add(c, SCMP_ACT_ERRNO(EACCES), SCMP_SYS(socket), 2,
			     SCMP_A0(SCMP_CMP_EQ, AF_UNIX),
			     SCMP_A1(SCMP_CMP_MASKED_EQ, 0xf, SOCK_STREAM)) < 0 ||
	    seccomp_rule_add(c, SCMP_ACT_ERRNO(EAFNOSUPPORT), SCMP_SYS(socket), 1,
			     SCMP_A0(SCMP_CMP_EQ, AF_NETLINK)) < 0)
		goto out;
	switch (r) {
	case SANDBOX_KEYS:
		break;
	case SANDBOX_RECEIVER:	/* a UDP session answers from a socket of its own */
		if (allow(c, files, sizeof(files) / sizeof(files[0])) < 0 || threads_only(c) < 0 ||
		    sock(c, AF_INET, SOCK_DGRAM) < 0 || sock(c, AF_INET6, SOCK_DGRAM) < 0 ||
		    seccomp_rule_add(c, SCMP_ACT_ALLOW, SCMP_SYS(bind), 0) < 0 ||
		    /* its name in ps(1): shipd-door, shipd-recv, shipd-closing */
		    seccomp_rule_add(c, SCMP_ACT_ALLOW, SCMP_SYS(prctl), 1,
				     SCMP_A0(SCMP_CMP_EQ, PR_SET_NAME)) < 0)
			goto out;
		break;
	case SANDBOX_SENDER:
		if (allow(c, files, sizeof(files) / sizeof(files[0])) < 0 || threads_only(c) < 0 ||
		    allow(c, sender, sizeof(sender) / sizeof(sender[0])) < 0 ||
		    sock(c, AF_INET, 0) < 0 || sock(c, AF_INET6, 0) < 0 ||
		    /* its name in ps(1): shipd-send or, between batches, shipd-idle */
		    seccomp_rule_add(c, SCMP_ACT_ALLOW, SCMP_SYS(prctl), 1,
				     SCMP_A0(SCMP_CMP_EQ, PR_SET_NAME)) < 0)
			goto out;
		break;
	default:
		msg_panic("sandbox_enter: unknown role %d", r);
	}
	rc = seccomp_load(c);
out:
	seccomp_release(c);
	if (rc < 0)
		msg_fatal("cannot enter the seccomp sandbox (role %d)", r);
}

#ifdef SHIPD_TEST_HOOKS
/*
 * SHIPD_TEST_FORBIDDEN=WHERE:FLAGFILE makes the process at WHERE (e.g.
 * "receiver-data") try execve once, if FLAGFILE exists (it is removed
 * first, so the next connection goes through).
 */
void
sandbox_test_hook(const char *where)
{
	const char *e = getenv("SHIPD_TEST_FORBIDDEN"), *colon;
	char *argv[] = {"/bin/true", NULL};

	if (e == NULL || (colon = strchr(e, ':')) == NULL ||
	    strncmp(e, where, colon - e) != 0 || strlen(where) != (size_t)(colon - e) ||
	    unlink(colon + 1) < 0)
		return;
	msg_info("test hook: %s tries a forbidden system call (execve)", where);
	execve(argv[0], argv, NULL);
	msg_warnx("test hook: execve was not stopped: %s", strerror(errno));
}
#else
void
sandbox_test_hook(const char *where)
{
	(void)where;
}
#endif
