/* Capture of files the job writes (written.c) or made and reads (made.c). */
#ifndef STASIS_WRITTEN_H
#define STASIS_WRITTEN_H
#include "../../include/stasis.h"

/* Capture id (>= 0); -1 when the file is not captured; -2 after stasis_fail. */
int written_save(const struct stasis_fd *f);
int written_restore(int id, const char *path, unsigned int mode);
void written_forget(void);
/* Captured (whole contents) at this checkpoint through a descriptor. */
int written_holds(unsigned long long dev, unsigned long long ino);
/* A regular file the job made (changed since its launch), not an input. */
int made_by_job(const struct stasis_fd *f);
/* Under $TMPDIR, /tmp, /var/tmp or /dev/shm. */
int in_scratch_dir(const char *path);
/* STASIS_CAPTURE_MAX in bytes. */
unsigned long long capture_max(void);
/* Writes path's contents (creating it and missing directories above it),
 * or with if_different leaves it when it holds them already; -1 after
 * stasis_fail. */
int put_back(const char *path, const char *data, unsigned long long size, unsigned int mode, int if_different);
#endif
