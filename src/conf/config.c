/*
 * config.c - lookups over a parsed configuration and its release. The
 * parser is config_parse.c; the check mode is config_check.c.
 */
#include "config_int.h"

#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>

#define DYN_MAX		4096	/* names pattern PEERs answer for, per process */

const char *
config_default_path(void)
{
	const char *p = getenv("SHIPD_CONF");

	return p && *p ? p : "/etc/shipd/shipping.conf";
}

const struct sclass *
config_class(const struct config *cf, const char *name)
{
	for (int i = 0; i < cf->nclasses; i++)
		if (strcmp(cf->classes[i].name, name) == 0)
			return &cf->classes[i];
	return NULL;
}

const struct sclass *
config_bay_class(const struct config *cf, const char *bay)
{
	for (int i = 0; i < cf->nclasses; i++) {
		const struct sclass *c = &cf->classes[i];

		for (int j = 0; j < c->bays.n; j++)
			if (strcmp(c->bays.v[j], bay) == 0)
				return c;
		if (c->return_bay && strcmp(c->return_bay, bay) == 0)
			return c;
	}
	return NULL;
}

const struct sclass *
config_class_or_default(const struct config *cf, const char *name)
{
	const struct sclass *c = config_class(cf, name);

	return c ? c : &cf->classes[0];
}

int
config_is_pattern(const char *s)
{
	return strpbrk(s, "*?") != NULL;
}

static const struct peer *
peer_exact(const struct config *cf, const char *name)
{
	for (int i = 0; i < cf->npeers; i++)
		if (!cf->peers[i].pattern && strcmp(cf->peers[i].name, name) == 0)
			return &cf->peers[i];
	return NULL;
}

/* A pattern PEER's host for one node: "%n" is the name, "%%" a '%'. */
static char *
expand_host(const char *tmpl, const char *name)
{
	struct sbuf b;

	sbuf_init(&b);
	for (const char *t = tmpl; *t; t++) {
		if (t[0] == '%' && t[1] == 'n') {
			sbuf_puts(&b, name);
			t++;
		} else if (t[0] == '%' && t[1] == '%') {
			sbuf_add(&b, "%", 1);
			t++;
		} else
			sbuf_add(&b, t, 1);
	}
	return b.s;
}

/*
 * The entry a pattern PEER makes for name, remembered in cf->dyn so that
 * its address stays valid as long as cf (a hop keeps the pointer). The
 * configuration is otherwise read-only; this cache is the one thing a
 * lookup adds to it.
 */
static const struct peer *
peer_from_pattern(const struct config *cf, const char *name, const struct peer *keyed)
{
	struct config *w = (struct config *)cf;
	const struct peer *pat = NULL;
	struct peer *p;

	for (int i = 0; i < cf->npeers && pat == NULL; i++)
		if (cf->peers[i].pattern && fnmatch(cf->peers[i].name, name, 0) == 0)
			pat = &cf->peers[i];
	if (pat == NULL || (cf->node && strcmp(name, cf->node) == 0))
		return NULL;
	for (int i = 0; i < cf->ndyn; i++)
		if (strcmp(cf->dyn[i]->name, name) == 0)
			return cf->dyn[i];
	if (cf->ndyn >= DYN_MAX) {
		err_set("more than %d nodes named by pattern PEERs", DYN_MAX);
		return NULL;
	}
	p = xcalloc(1, sizeof(*p));
	p->name = xstrdup(name);
	p->host = expand_host(pat->host, name);
	p->port = pat->port;
	if (keyed && keyed->has_key) {
		p->key = keyed->key;
		p->has_key = 1;
	}
	p->file = pat->file;
	p->line = pat->line;
	w->dyn = xrealloc(w->dyn, (cf->ndyn + 1) * sizeof(*w->dyn));
	w->dyn[w->ndyn++] = p;
	return p;
}

const struct peer *
config_peer(const struct config *cf, const char *name)
{
	const struct peer *p = peer_exact(cf, name), *q;

	if (p && PEER_REACHABLE(p))
		return p;
	if ((q = peer_from_pattern(cf, name, p)) != NULL)
		return q;
	return p;
}

const struct authority *
config_authority(const struct config *cf, const uint8_t id[8])
{
	for (int i = 0; i < cf->nauth; i++)
		if (memcmp(cf->auth[i].id, id, sizeof(cf->auth[i].id)) == 0)
			return &cf->auth[i];
	return NULL;
}

const struct peer *
config_peer_by_key(const struct config *cf, const uint8_t *sign_pub)
{
	for (int i = 0; i < cf->npeers; i++)
		if (cf->peers[i].has_key &&
		    memcmp(cf->peers[i].key.sign, sign_pub, sizeof(cf->peers[i].key.sign)) == 0)
			return &cf->peers[i];
	return NULL;
}

const char *
config_next_hop(const struct config *cf, const char *dest)
{
	const struct peer *p;

	if (cf->node && strcmp(dest, cf->node) == 0)
		return cf->node;
	for (int i = 0; i < cf->nroutes; i++)
		if (strv_has(&cf->routes[i].dests, dest))
			return cf->routes[i].next_hop;
	p = peer_exact(cf, dest);
	if (p && PEER_REACHABLE(p))
		return p->name;
	for (int i = 0; i < cf->nroutes; i++)
		for (int d = 0; d < cf->routes[i].dests.n; d++)
			if (config_is_pattern(cf->routes[i].dests.v[d]) &&
			    fnmatch(cf->routes[i].dests.v[d], dest, 0) == 0)
				return cf->routes[i].next_hop;
	p = config_peer(cf, dest);
	if (p && PEER_REACHABLE(p))
		return p->name;
	return NULL;
}

void
config_free(struct config *cf)
{
	if (cf == NULL)
		return;
	free(cf->path);
	free(cf->node);
	free(cf->listen_addr);
	free(cf->key_file);
	free(cf->keys_dir);
	free(cf->administrator);
	free(cf->notify_program);
	free(cf->log_dest);
	free(cf->spool_user);
	free(cf->submit_socket);
	free(cf->submit_group);
	free(cf->spool);
	free(cf->cert_file);
	free(cf->trust_dir);
	free(cf->auth);
	if (cf->trust && cf->trust_free)
		cf->trust_free(cf->trust);
	for (int i = 0; i < cf->ndyn; i++) {
		free(cf->dyn[i]->name);
		free(cf->dyn[i]->host);
		free(cf->dyn[i]);
	}
	free(cf->dyn);
	for (int i = 0; i < cf->nclasses; i++) {
		free(cf->classes[i].name);
		strv_free(&cf->classes[i].bays);
		free(cf->classes[i].return_bay);
		free(cf->classes[i].receipt_handler);
	}
	for (int i = 0; i < cf->npeers; i++) {
		free(cf->peers[i].name);
		free(cf->peers[i].host);
		free(cf->peers[i].dir);
	}
	strv_free(&cf->import_dirs);
	free(cf->peers);
	for (int i = 0; i < cf->nroutes; i++) {
		free(cf->routes[i].next_hop);
		strv_free(&cf->routes[i].dests);
	}
	free(cf->routes);
	free(cf->allow);
	free(cf);
}

/*
 * Make this node's own public key known under its name, so packets it
 * originates can be checked and opened here too (a packet to oneself).
 */
void
config_add_self(struct config *cf, const struct pubkey *pk)
{
	struct peer *p;

	if (cf->node == NULL || peer_exact(cf, cf->node) != NULL)
		return;
	cf->peers = xrealloc(cf->peers, (cf->npeers + 1) * sizeof(*cf->peers));
	p = &cf->peers[cf->npeers++];
	memset(p, 0, sizeof(*p));
	p->name = xstrdup(cf->node);
	p->key = *pk;
	p->has_key = 1;
}
