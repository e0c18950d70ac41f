/* --path-map: files moved since the checkpoint. A map is text, one
 * "OLD=NEW" per line (split at the first '='; both absolute). A saved path
 * equal to OLD or under it (OLD/...) is looked for under NEW instead; the
 * longest matching OLD wins. Shared by libstasis and the restart loader. */
#ifndef STASIS_PATH_MAP_H
#define STASIS_PATH_MAP_H
#include <stddef.h>

/* The path to use for `saved`, written to out (which it returns); `saved`
 * itself when nothing matches or the result would not fit. */
const char *path_map_apply(const char *map, const char *saved, char *out, size_t cap);

/* 0 when every line of the map is well-formed; else -1 with the bad line
 * copied to bad. */
int path_map_check(const char *map, char *bad, size_t cap);
#endif
