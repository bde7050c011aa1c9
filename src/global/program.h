/*
 * program.h - running a helper program the configuration names (the
 * notification program, a class's receipt handler): argv as given, no
 * shell, stdin from /dev/null, bounded in time. Never exits the caller.
 */
#ifndef SHIPD_PROGRAM_H
#define SHIPD_PROGRAM_H

/* Run argv[0] with argv; its exit status, 128 + signal, or -1 when it
 * could not run or was killed after timeout_s seconds. */
int run_program(char *const argv[], int timeout_s);

/*
 * A process that may not exec (shipd's sandboxed sender) hands its
 * programs to a runner instead: run_program calls fn from then on.
 */
typedef int (*program_runner)(void *ctx, char *const argv[], int timeout_s);
void program_set_runner(program_runner fn, void *ctx);

#endif
