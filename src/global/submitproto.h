/*
 * submitproto.h - what `shipctl submit` says to the daemon's submission
 * socket (SUBMIT-SOCKET, shipd's submitd.c), one request per connection:
 *
 *   request  text, with the file's descriptor alongside (SCM_RIGHTS):
 *              shipd-submit 1
 *              path: /where/the/submitter/has/it   (its name, for the order)
 *              to: DEST                            (one or more)
 *              class: C | name: N | expires: T | notify: A | comment: TEXT
 *              hold: 1
 *              end
 *   greeting "ready", or one line "error 77 reason" when the caller may not
 *            submit (sent on connecting, before the request: a refused
 *            caller reads it without having sent anything)
 *   answer   "ok ID" per queued part then "end", or one line
 *            "error STATUS reason" (STATUS: shipctl's exit code)
 *
 * Values hold no newline. Decoding is strict: an unknown line, a missing
 * "end" or a second "path" refuses the request. Never reads a file.
 */
#ifndef SHIPD_SUBMITPROTO_H
#define SHIPD_SUBMITPROTO_H

#include "submit.h"
#include "../util/mem.h"

#define SUBMIT_MSG_MAX	16384

/* -1 with err_set when a value cannot travel (a newline in it) or it is too long */
int submitproto_encode(const struct submit_req *r, struct sbuf *out);
/* text is changed in place (NUL-terminated values); r's strings point into it */
int submitproto_decode(char *text, size_t len, struct submit_req *r);

#endif
