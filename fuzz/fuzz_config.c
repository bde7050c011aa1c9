/*
 * fuzz_config.c - libFuzzer target for the shipping.conf parser and the
 * check mode: any bytes must give a config or one "file:line: message"
 * error, never a crash, a hang, a leak or a second line.
 *
 * The port variables are cleared so the environment cannot mask a path.
 */
#include "conf/config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static FILE *devnull;
	struct config *cf;

	if (devnull == NULL) {
		unsetenv("CLEARCASE_MIN_PORT");
		unsetenv("CLEARCASE_MAX_PORT");
		devnull = fopen("/dev/null", "w");
	}
	cf = config_load_buf("/tmp/fuzz.conf", (const char *)data, size);
	if (cf == NULL) {
		const char *e = err_get();

		if (strncmp(e, "/tmp/fuzz.conf", 14) != 0 || strchr(e, '\n') != NULL)
			abort();	/* every error names the file, on one line */
		return 0;
	}
	if (cf->nclasses < 1 || strcmp(cf->classes[0].name, DEFAULT_CLASS) != 0 ||
	    cf->node == NULL || cf->key_file == NULL)
		abort();
	for (int i = 0; i < cf->nclasses; i++)
		if (cf->classes[i].bays.n < 1 || cf->classes[i].return_bay == NULL ||
		    cf->classes[i].expiration_days < 1)
			abort();
	if ((cf->min_port == 0) != (cf->max_port == 0) || cf->max_port < cf->min_port)
		abort();
	config_check(cf, devnull ? devnull : stderr);
	config_free(cf);
	return 0;
}
