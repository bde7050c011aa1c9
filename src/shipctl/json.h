/*
 * json.h - the one JSON schema of shipctl's --json outputs (shipctl(1),
 * JSON OUTPUT): each is one object that opens with
 *
 *   "schema": 1, "kind": VERB, "node": NODE, "now": UNIX-SECONDS
 *
 * then the verb's own members. Times are Unix seconds, durations end in
 * _seconds, sizes are bytes, absent values are null, names are
 * snake_case. An order is always the object ls --json lists (json_entry).
 * A change that removes or retypes a member raises "schema".
 */
#ifndef SHIPD_SHIPCTL_JSON_H
#define SHIPD_SHIPCTL_JSON_H

#include <time.h>
#include "../conf/config.h"
#include "../util/mem.h"

#define JSON_SCHEMA	1

/* Open the object: the four members above (no closing brace). */
void json_begin(struct sbuf *b, const char *kind, const struct config *cf, time_t now);
/* Close it, write it to stdout with a newline, free b; 0, or -1 on a write error. */
int json_end(struct sbuf *b);
/* "listen":{"address","port"}|null,"ports":{"min","max"}|null (no leading comma) */
void json_listen(struct sbuf *b, const struct config *cf);
/* ,"key":[ "s", ... ] */
void json_strv(struct sbuf *b, const char *key, const struct strv *l);

#endif
