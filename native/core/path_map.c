/* --path-map lookups (path_map.h). Plain string work: no allocation, so it
 * runs in the loader and on the checkpoint thread alike. */
#include "path_map.h"
#include <stdio.h>
#include <string.h>

static size_t line_len(const char *s) {
  const char *nl = strchr(s, '\n');
  return nl ? (size_t)(nl - s) : strlen(s);
}

const char *path_map_apply(const char *map, const char *saved, char *out, size_t cap) {
  const char *best_new = NULL;
  size_t best_old = 0, best_new_len = 0;
  for (const char *l = map; l && *l; l += line_len(l), l += *l == '\n') {
    size_t n = line_len(l);
    const char *eq = memchr(l, '=', n);
    if (!eq || eq == l) continue;
    size_t old = (size_t)(eq - l);
    while (old > 1 && l[old - 1] == '/') old--;   /* "/a/" is "/a" */
    int under = strncmp(saved, l, old) == 0 && (saved[old] == 0 || saved[old] == '/' || old == 1);
    if (!under || old <= best_old) continue;
    best_old = old;
    best_new = eq + 1;
    best_new_len = n - (size_t)(eq - l) - 1;
  }
  if (!best_new) { snprintf(out, cap, "%s", saved); return out; }
  const char *rest = saved + best_old;
  if (best_old == 1) rest = saved;   /* OLD is "/": everything moves under NEW */
  while (best_new_len > 1 && best_new[best_new_len - 1] == '/' && *rest == '/') best_new_len--;
  if (best_new_len == 1 && best_new[0] == '/' && *rest == '/') best_new_len = 0;
  if ((size_t)snprintf(out, cap, "%.*s%s", (int)best_new_len, best_new, rest) >= cap) snprintf(out, cap, "%s", saved);
  return out;
}

int path_map_check(const char *map, char *bad, size_t cap) {
  for (const char *l = map; l && *l; l += line_len(l), l += *l == '\n') {
    size_t n = line_len(l);
    const char *eq = memchr(l, '=', n);
    if (eq && eq != l && l[0] == '/' && eq[1] == '/') continue;
    snprintf(bad, cap, "%.*s", (int)n, l);
    return -1;
  }
  return 0;
}
