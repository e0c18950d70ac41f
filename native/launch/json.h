/* A small JSON reader for stasis-front: coordinator.json and the STATUS
 * object. Values live in one arena freed with json_free. */
#pragma once
#include <stddef.h>

enum json_type { J_NULL, J_BOOL, J_NUM, J_STR, J_ARR, J_OBJ };

struct json {
  enum json_type type;
  double num;              /* J_NUM; J_BOOL: 0 or 1 */
  char *str;               /* J_STR: UTF-8, NUL-terminated */
  size_t n;                /* J_ARR, J_OBJ: items */
  struct json **items;     /* J_ARR, J_OBJ values */
  char **keys;             /* J_OBJ */
};

/* NULL if text is not one JSON value (with surrounding whitespace). */
struct json *json_parse(const char *text);
void json_free(struct json *v);
/* The member `key` of an object (the last one, as JavaScript keeps), or NULL. */
const struct json *json_get(const struct json *obj, const char *key);
