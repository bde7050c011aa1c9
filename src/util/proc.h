/*
 * proc.h - whether a process recorded earlier is still the same live
 * process, from /proc: a PID alone is not enough (the kernel hands it out
 * again, within minutes on a busy machine), and a dead process that its
 * parent has not reaped yet (a zombie: killed with its master, waiting for
 * init) still answers kill(PID, 0). Reads /proc only; never signals,
 * never waits. And this process's own PID, without a system call each
 * time (self_pid).
 */
#ifndef SHIPD_PROC_H
#define SHIPD_PROC_H

#include <sys/types.h>

/*
 * PID's start time (clock ticks since boot, field 22 of /proc/PID/stat),
 * which with the PID names one process for the life of the system; 0 if
 * there is no such process, it is a zombie, or /proc cannot be read.
 */
unsigned long long proc_start_time(pid_t pid);

/*
 * getpid(), asked of the kernel once per process: a fork()ed child asks
 * again (a pthread_atfork handler forgets the parent's). Log lines and
 * temporary names use it several times an order. Processes are made only
 * with fork() here; one made with a raw clone() must not call this.
 */
pid_t self_pid(void);

#endif
