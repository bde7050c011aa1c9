/*
 * bay_int.h - what the queue layer's own files share (bay.c, commit.c,
 * deliver.c, bay_recover.c) and its module tests may use. Nothing outside
 * src/queue/ and tests/ includes it: programs go through bay.h and
 * commit.h.
 */
#ifndef SHIPD_BAY_INT_H
#define SHIPD_BAY_INT_H

#include "commit.h"

/* Bytes under data/, tmp/ and partial/ (what BAY-SIZE-LIMIT bounds). */
int bay_usage(const char *bay, uint64_t *bytes);

/* seen/ID, with the order's expiry (0: unknown) for the purge; one there
 * already (a rerun after a crash) is kept, its expiry too, without a
 * lookup first. */
int bay_mark_seen(const char *bay, const char *id, time_t expires);
int bay_mark_seen_nosync(const char *bay, const char *id, time_t expires);

/* Make data/TO_ID in to_bay the same packet as from_bay's data/FROM_ID:
 * link(2), or a copy fsynced through to_bay's tmp/ across file systems.
 * Never replaces an existing data/TO_ID; the source stays. */
int bay_link_data(const char *from_bay, const char *from_id, const char *to_bay,
		  const char *to_id);

/* Lock an unpack/KEY/ directory while a delivery works in it: the fd, or
 * -1 (EWOULDBLOCK when a live process holds it). */
int bay_unpack_lock(const char *dir);

/* dir (a copy is kept) is to be fsynced by bay_group_sync(g); with
 * BAY_GROUP_DIRS already pending, it is fsynced now. */
int bay_group_add(struct bay_group *g, const char *dir);

/* Names in dir except "." and ".."; -1 if dir cannot be read. */
int bay_list_dir(const char *dir, struct strv *names);
/* rm -r without following symbolic links; 0 when it is gone. */
int bay_rm_rf(const char *path);

#endif
