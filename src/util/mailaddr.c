/*
 * mailaddr.c - the notification address grammar of mailaddr.h. Pure
 * string checks: never allocates, never exits.
 */
#include "mailaddr.h"

#include <string.h>

static int
word_char(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '_' || c == '+' || c == '-' || c == '=';
}

static int
alnum(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/* local-part: dot-separated non-empty words, [p, p + n). */
static const char *
local_bad(const char *p, size_t n)
{
	if (n == 0)
		return "empty local part";
	if (n > 64)
		return "local part longer than 64 bytes";
	for (size_t i = 0; i < n; i++) {
		if (p[i] == '.') {
			if (i == 0 || i + 1 == n || p[i + 1] == '.')
				return "empty word in the local part (a leading, trailing or double dot)";
		} else if (!word_char((unsigned char)p[i]))
			return "a character outside A-Z a-z 0-9 . _ + - =";
	}
	return NULL;
}

static const char *
domain_bad(const char *p)
{
	size_t n = strlen(p), lab = 0;

	if (n == 0)
		return "empty domain";
	if (n > 253)
		return "domain longer than 253 bytes";
	for (size_t i = 0; i <= n; i++) {
		if (i == n || p[i] == '.') {
			if (lab == 0)
				return "empty label in the domain";
			if (p[i - 1] == '-')
				return "a domain label ends in '-'";
			lab = 0;
			continue;
		}
		if (lab == 0 && !alnum((unsigned char)p[i]))
			return "a domain label starts with something other than a letter or digit";
		if (!alnum((unsigned char)p[i]) && p[i] != '-')
			return "a character outside A-Z a-z 0-9 - . in the domain";
		if (++lab > 63)
			return "a domain label longer than 63 bytes";
	}
	return NULL;
}

const char *
mailaddr_bad(const char *s)
{
	const char *at;

	if (s == NULL || *s == 0)
		return "empty address";
	if (strlen(s) > MAILADDR_MAX)
		return "longer than 254 bytes";
	if (s[0] == '-')
		return "starts with '-'";
	if ((at = strchr(s, '@')) == NULL)
		return local_bad(s, strlen(s));
	if (strchr(at + 1, '@'))
		return "more than one '@'";
	{
		const char *why = local_bad(s, at - s);

		return why ? why : domain_bad(at + 1);
	}
}
