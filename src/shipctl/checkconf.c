/*
 * checkconf.c - "shipctl checkconf": parse shipping.conf, print the
 * effective configuration and every problem a parse cannot see (see
 * config_check()). Exit 0 when there is none, 2 (EX_CONFIG) on a parse
 * error (on stderr, "shipctl: file:line: message") or on any problem.
 *
 * Reads the configuration only; never touches the spool or the network.
 */
#include "shipctl.h"

#include <stdio.h>

VERB(checkconf)
{
	struct config *cf;
	int problems;

	if (argc != 1) {
		fprintf(stderr, "usage: shipctl [-c CONF] checkconf\n");
		return EX_USAGE;
	}
	c->keep_root = 1;	/* reads only; it checks the key file as its owner would */
	cf = ctl_config(c);
	problems = config_check(cf, stdout);
	fflush(stdout);
	if (problems == 0) {
		printf("%s: no problems found\n", cf->path);
		return EX_OK;
	}
	fprintf(stderr, "shipctl: %s: %d problem%s found\n", cf->path, problems,
		problems == 1 ? "" : "s");
	return EX_CONFIG;
}
