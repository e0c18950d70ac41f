/* Shared memory objects the loader makes once for a whole tree (shm.c). */
#ifndef STASIS_LOADER_SHM_H
#define STASIS_LOADER_SHM_H
#include <stdint.h>

/* Before forking: makes every object the images' .shm files describe. */
int shm_prepare(int count, const char *const *images);
/* After forking: only this image's mappings matter (the same pointer as
 * was passed to shm_prepare). */
void shm_keep_only(const char *image);
/* Maps a RGN_OBJECT region [start, end) of the object it belongs to; on
 * failure prints why (naming image `name`) and exits. */
void shm_map_region(const char *name, uint64_t start, uint64_t end, int prot);
#endif
