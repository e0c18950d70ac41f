/* Recursive descent over RFC 8259 JSON; \u escapes become UTF-8 (a lone
 * surrogate makes the text refused: stasis-front then leaves it to Node). */
#include "json.h"
#include <stdlib.h>
#include <string.h>

struct parser { const char *p; int depth; };

static void ws(struct parser *s) { while (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r') s->p++; }

static struct json *node(enum json_type t) {
  struct json *v = calloc(1, sizeof *v);
  if (v) v->type = t;
  return v;
}

static int hex4(const char *p, unsigned *out) {
  unsigned v = 0;
  for (int i = 0; i < 4; i++) {
    char c = p[i];
    v <<= 4;
    if (c >= '0' && c <= '9') v |= (unsigned)(c - '0');
    else if (c >= 'a' && c <= 'f') v |= (unsigned)(c - 'a' + 10);
    else if (c >= 'A' && c <= 'F') v |= (unsigned)(c - 'A' + 10);
    else return -1;
  }
  *out = v;
  return 0;
}

static size_t utf8(unsigned cp, char *o) {
  if (cp < 0x80) { o[0] = (char)cp; return 1; }
  if (cp < 0x800) { o[0] = (char)(0xc0 | cp >> 6); o[1] = (char)(0x80 | (cp & 0x3f)); return 2; }
  if (cp < 0x10000) { o[0] = (char)(0xe0 | cp >> 12); o[1] = (char)(0x80 | (cp >> 6 & 0x3f)); o[2] = (char)(0x80 | (cp & 0x3f)); return 3; }
  o[0] = (char)(0xf0 | cp >> 18); o[1] = (char)(0x80 | (cp >> 12 & 0x3f)); o[2] = (char)(0x80 | (cp >> 6 & 0x3f)); o[3] = (char)(0x80 | (cp & 0x3f));
  return 4;
}

static char *string(struct parser *s) {
  if (*s->p != '"') return NULL;
  const char *p = ++s->p;
  char *out = malloc(strlen(p) + 1), *o = out;
  if (!out) return NULL;
  for (;;) {
    unsigned char c = (unsigned char)*p;
    if (c == '"') break;
    if (c < 0x20) goto bad;
    if (c != '\\') { *o++ = (char)c; p++; continue; }
    p++;
    switch (*p++) {
      case '"': *o++ = '"'; break;
      case '\\': *o++ = '\\'; break;
      case '/': *o++ = '/'; break;
      case 'b': *o++ = '\b'; break;
      case 'f': *o++ = '\f'; break;
      case 'n': *o++ = '\n'; break;
      case 'r': *o++ = '\r'; break;
      case 't': *o++ = '\t'; break;
      case 'u': {
        unsigned cp, lo;
        if (hex4(p, &cp)) goto bad;
        p += 4;
        if (cp >= 0xdc00 && cp < 0xe000) goto bad;
        if (cp >= 0xd800 && cp < 0xdc00) {
          if (p[0] != '\\' || p[1] != 'u' || hex4(p + 2, &lo) || lo < 0xdc00 || lo >= 0xe000) goto bad;
          p += 6;
          cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
        }
        if (cp == 0) goto bad;   /* a NUL would cut the C string short */
        o += utf8(cp, o);
        break;
      }
      default: goto bad;
    }
  }
  *o = 0;
  s->p = p + 1;
  return out;
bad:
  free(out);
  return NULL;
}

static struct json *value(struct parser *s);

static int push(struct json *v, struct json *item, char *key) {
  struct json **items = realloc(v->items, (v->n + 1) * sizeof *items);
  if (!items) return -1;
  v->items = items;
  if (v->type == J_OBJ) {
    char **keys = realloc(v->keys, (v->n + 1) * sizeof *keys);
    if (!keys) return -1;
    v->keys = keys;
    keys[v->n] = key;
  }
  items[v->n++] = item;
  return 0;
}

static struct json *container(struct parser *s, enum json_type t) {
  char close = t == J_ARR ? ']' : '}';
  struct json *v = node(t);
  if (!v || ++s->depth > 64) goto bad;
  s->p++;
  ws(s);
  if (*s->p == close) { s->p++; s->depth--; return v; }
  for (;;) {
    char *key = NULL;
    if (t == J_OBJ) {
      ws(s);
      if (!(key = string(s))) goto bad;
      ws(s);
      if (*s->p++ != ':') { free(key); goto bad; }
    }
    struct json *item = value(s);
    if (!item || push(v, item, key)) { free(key); json_free(item); goto bad; }
    ws(s);
    if (*s->p == ',') { s->p++; continue; }
    if (*s->p == close) { s->p++; s->depth--; return v; }
    goto bad;
  }
bad:
  json_free(v);
  return NULL;
}

static struct json *value(struct parser *s) {
  ws(s);
  const char *p = s->p;
  struct json *v;
  if (*p == '{') return container(s, J_OBJ);
  if (*p == '[') return container(s, J_ARR);
  if (*p == '"') {
    char *str = string(s);
    if (!str || !(v = node(J_STR))) { free(str); return NULL; }
    v->str = str;
    return v;
  }
  if (!strncmp(p, "null", 4)) { s->p += 4; return node(J_NULL); }
  if (!strncmp(p, "true", 4) || !strncmp(p, "false", 5)) {
    if (!(v = node(J_BOOL))) return NULL;
    v->num = *p == 't';
    s->p += *p == 't' ? 4 : 5;
    return v;
  }
  /* -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)? */
  const char *q = p;
  if (*q == '-') q++;
  if (*q == '0') q++;
  else if (*q >= '1' && *q <= '9') while (*q >= '0' && *q <= '9') q++;
  else return NULL;
  if (*q == '.') { q++; if (*q < '0' || *q > '9') return NULL; while (*q >= '0' && *q <= '9') q++; }
  if (*q == 'e' || *q == 'E') {
    q++;
    if (*q == '+' || *q == '-') q++;
    if (*q < '0' || *q > '9') return NULL;
    while (*q >= '0' && *q <= '9') q++;
  }
  if (!(v = node(J_NUM))) return NULL;
  v->num = strtod(p, NULL);
  s->p = q;
  return v;
}

struct json *json_parse(const char *text) {
  struct parser s = { text, 0 };
  struct json *v = value(&s);
  if (!v) return NULL;
  ws(&s);
  if (*s.p) { json_free(v); return NULL; }
  return v;
}

void json_free(struct json *v) {
  if (!v) return;
  for (size_t i = 0; i < v->n; i++) {
    json_free(v->items[i]);
    if (v->keys) free(v->keys[i]);
  }
  free(v->items);
  free(v->keys);
  free(v->str);
  free(v);
}

const struct json *json_get(const struct json *obj, const char *key) {
  if (!obj || obj->type != J_OBJ) return NULL;
  for (size_t i = obj->n; i-- > 0;)
    if (!strcmp(obj->keys[i], key)) return obj->items[i];
  return NULL;
}
