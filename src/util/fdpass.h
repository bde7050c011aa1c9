/*
 * fdpass.h - one message with (at most) one file descriptor over a Unix
 * socket (SCM_RIGHTS), for the daemon's key process (each worker's line to
 * it) and the submission socket (the file a submitter hands over).
 *
 * Never keeps a descriptor it did not announce: a message that carries
 * more than one, or one the caller did not ask for, has them all closed.
 */
#ifndef SHIPD_FDPASS_H
#define SHIPD_FDPASS_H

#include <stddef.h>
#include <sys/types.h>

/* Send len bytes (at least 1) and fd (or -1 for none). 0, or -1 with err_set. */
int fd_send(int sock, int fd, const void *buf, size_t len);
/*
 * Receive one message of at most size bytes into buf; *fd gets the
 * descriptor it carried (close-on-exec) or -1 (fd NULL: none is wanted,
 * any is closed). Returns the length (0 at end of file), or -1 with
 * err_set (also for a message longer than size: MSG_TRUNC).
 */
ssize_t fd_recv(int sock, void *buf, size_t size, int *fd);

#endif
