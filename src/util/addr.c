/*
 * addr.c - CIDR parse/match and socket address printing.
 */
#include "addr.h"
#include "log.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int
cidr_parse(const char *s, struct cidr *c)
{
	char buf[128], *slash, *end;
	long prefix = -1;

	if (strlen(s) >= sizeof(buf)) {
		err_set("address too long: %s", s);
		return -1;
	}
	strcpy(buf, s);
	if ((slash = strchr(buf, '/')) != NULL) {
		*slash++ = 0;
		prefix = strtol(slash, &end, 10);
		if (*slash == 0 || *end != 0 || prefix < 0) {
			err_set("bad prefix length in %s", s);
			return -1;
		}
	}
	memset(c, 0, sizeof(*c));
	if (inet_pton(AF_INET, buf, c->addr) == 1) {
		c->family = AF_INET;
		c->prefix = prefix < 0 ? 32 : prefix;
		if (c->prefix > 32) {
			err_set("prefix length over 32 in %s", s);
			return -1;
		}
	} else if (inet_pton(AF_INET6, buf, c->addr) == 1) {
		c->family = AF_INET6;
		c->prefix = prefix < 0 ? 128 : prefix;
		if (c->prefix > 128) {
			err_set("prefix length over 128 in %s", s);
			return -1;
		}
	} else {
		err_set("not an IP address or CIDR: %s", s);
		return -1;
	}
	return 0;
}

static int
prefix_eq(const unsigned char *a, const unsigned char *b, int bits)
{
	int bytes = bits / 8, rest = bits % 8;

	if (memcmp(a, b, bytes) != 0)
		return 0;
	if (rest == 0)
		return 1;
	return ((a[bytes] ^ b[bytes]) & (0xff << (8 - rest))) == 0;
}

int
cidr_match(const struct cidr *c, const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET && c->family == AF_INET)
		return prefix_eq(c->addr, (const unsigned char *)
				 &((const struct sockaddr_in *)sa)->sin_addr, c->prefix);
	if (sa->sa_family == AF_INET6) {
		const unsigned char *a = ((const struct sockaddr_in6 *)sa)->sin6_addr.s6_addr;

		if (c->family == AF_INET6)
			return prefix_eq(c->addr, a, c->prefix);
		/* v4-mapped v6 address against a v4 rule */
		static const unsigned char mapped[12] = {0,0,0,0,0,0,0,0,0,0,0xff,0xff};
		if (memcmp(a, mapped, 12) == 0)
			return prefix_eq(c->addr, a + 12, c->prefix);
	}
	return 0;
}

const char *
addr_str(const struct sockaddr *sa, char *buf, size_t size)
{
	char host[INET6_ADDRSTRLEN];

	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const void *)sa;

		inet_ntop(AF_INET, &in->sin_addr, host, sizeof(host));
		snprintf(buf, size, "%s:%d", host, ntohs(in->sin_port));
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const void *)sa;

		inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof(host));
		snprintf(buf, size, "[%s]:%d", host, ntohs(in6->sin6_port));
	} else
		snprintf(buf, size, "(unknown address family %d)", sa->sa_family);
	return buf;
}

int
addr_port(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET)
		return ntohs(((const struct sockaddr_in *)sa)->sin_port);
	if (sa->sa_family == AF_INET6)
		return ntohs(((const struct sockaddr_in6 *)sa)->sin6_port);
	return -1;
}
