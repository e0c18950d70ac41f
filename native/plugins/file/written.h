/* Capture of files the job writes (written.c) or made and reads (made.c). */
#ifndef STASIS_WRITTEN_H
#define STASIS_WRITTEN_H
#include "../../include/stasis.h"

/* Capture id (>= 0); -1 when the file is not captured; -2 after stasis_fail. */
int written_save(const struct stasis_fd *f);
int written_restore(int id, const char *path, unsigned int mode);
void written_forget(void);
/* A regular file the job made (changed since its launch), not an input. */
int made_by_job(const struct stasis_fd *f);
#endif
