/*
 * config.c - lookups over a parsed configuration and its release. The
 * parser is config_parse.c; the check mode is config_check.c.
 */
#include "config_int.h"

#include <stdlib.h>
#include <string.h>

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

const struct peer *
config_peer(const struct config *cf, const char *name)
{
	for (int i = 0; i < cf->npeers; i++)
		if (strcmp(cf->peers[i].name, name) == 0)
			return &cf->peers[i];
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
	free(cf->spool);
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

	if (cf->node == NULL || config_peer(cf, cf->node) != NULL)
		return;
	cf->peers = xrealloc(cf->peers, (cf->npeers + 1) * sizeof(*cf->peers));
	p = &cf->peers[cf->npeers++];
	memset(p, 0, sizeof(*p));
	p->name = xstrdup(cf->node);
	p->key = *pk;
	p->has_key = 1;
}
