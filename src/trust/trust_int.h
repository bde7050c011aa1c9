/*
 * trust_int.h - private to src/trust/ (trust.c, trust_rev.c).
 */
#ifndef SHIPD_TRUST_INT_H
#define SHIPD_TRUST_INT_H

#include "trust.h"

/* TRUST-DIR/.lock held exclusively (created with TRUST-DIR): an fd to close, or -1. */
int trust_lock(const struct config *cf);
/*
 * Does a held revocation list revoke c (or, with c NULL, the signing key
 * sign)? 0 no; -1 yes or the authority's list is damaged, err_set why.
 */
int trust_revoked(const struct config *cf, const struct cert *c, const uint8_t *sign);

#endif
