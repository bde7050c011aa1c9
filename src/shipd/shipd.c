/*
 * shipd.c - the shipping server's entry point (being written).
 */
#include <stdio.h>

int
main(void)
{
	fprintf(stderr, "shipd: not built yet\n");
	return 1;
}
