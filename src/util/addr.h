/*
 * addr.h - IPv4/IPv6 address and CIDR parsing and matching, for the allow
 * list and peer addresses. Knows nothing of shipping.
 */
#ifndef SHIPD_ADDR_H
#define SHIPD_ADDR_H

#include <sys/socket.h>

struct cidr {
	int family;			/* AF_INET or AF_INET6 */
	unsigned char addr[16];
	int prefix;
};

/* "10.0.0.0/8", "::1", "127.0.0.1": a bare address is a host route. */
int cidr_parse(const char *s, struct cidr *c);
int cidr_match(const struct cidr *c, const struct sockaddr *sa);
/* Printable "addr:port" (or "[v6]:port") of a socket address. */
const char *addr_str(const struct sockaddr *sa, char *buf, size_t size);
int addr_port(const struct sockaddr *sa);

#endif
