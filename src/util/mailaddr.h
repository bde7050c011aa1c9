/*
 * mailaddr.h - the one grammar for the notification addresses shipd hands
 * to NOTIFICATION-PROGRAM (an order's notify, ADMINISTRATOR).
 *
 * An address is a conservative subset of RFC 5322's addr-spec, or a bare
 * local user name:
 *
 *   address    = local-part [ "@" domain ]
 *   local-part = word *( "." word )         1..64 bytes
 *   word       = 1*( ALPHA / DIGIT / "_" / "+" / "-" / "=" )
 *   domain     = label *( "." label )       1..253 bytes
 *   label      = ALPHA / DIGIT, then ALPHA / DIGIT / "-", not ending in
 *                "-"; 1..63 bytes
 *
 * and it never starts with '-' (so it can never be taken for an option),
 * holds no blank, quote, shell metacharacter or control byte, and is at
 * most MAILADDR_MAX bytes. Anything else (quoted local parts, comments,
 * address literals, lists) is refused, not guessed at.
 *
 * Layer src/util/: calls libc only.
 */
#ifndef SHIPD_MAILADDR_H
#define SHIPD_MAILADDR_H

#define MAILADDR_MAX	254

/* NULL when s is a valid address, else why it is not (a short phrase). */
const char *mailaddr_bad(const char *s);

#endif
