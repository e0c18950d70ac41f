/* Side files beside an image, verified (restart/side.c). */
#ifndef STASIS_LOADER_SIDE_H
#define STASIS_LOADER_SIDE_H
#include <stddef.h>

/* IMAGE.SUFFIX without its trailer, in malloc'd memory (NUL-terminated);
 * *data stays NULL when there is no such file. On a damaged file prints
 * one line naming it and returns -1. */
int side_file_read(const char *image, const char *suffix, char **data, size_t *len);
#endif
