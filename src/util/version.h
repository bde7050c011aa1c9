/*
 * version.h - the one version string every program prints for --version
 * (shipd, shipctl, and through shipctl the MultiSite front ends).
 */
#ifndef SHIPD_VERSION_H
#define SHIPD_VERSION_H

#define SHIPD_VERSION	"0.21.0"

#endif
