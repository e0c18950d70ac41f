/* Is a buffer one JSON object, as JSON.parse in `stasis inspect` decides
 * (RFC 8259; bytes are not checked as UTF-8, which Node replaces rather
 * than refuses)? Iterative, so no nesting depth overflows the stack. */
#include "image.h"
#include <stdlib.h>
#include <string.h>

struct cursor { const unsigned char *s, *end; };

static void skip_ws(struct cursor *c) {
  while (c->s < c->end && (*c->s == ' ' || *c->s == '\t' || *c->s == '\n' || *c->s == '\r')) c->s++;
}

static int hex(unsigned char ch) {
  return (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f') || (ch >= 'A' && ch <= 'F');
}

static int string(struct cursor *c) {
  if (c->s >= c->end || *c->s != '"') return -1;
  for (c->s++; c->s < c->end; c->s++) {
    unsigned char ch = *c->s;
    if (ch == '"') { c->s++; return 0; }
    if (ch < 0x20) return -1;
    if (ch != '\\') continue;
    if (++c->s >= c->end) return -1;
    if (*c->s == 'u') {
      if (c->end - c->s < 5 || !hex(c->s[1]) || !hex(c->s[2]) || !hex(c->s[3]) || !hex(c->s[4])) return -1;
      c->s += 4;
    } else if (!strchr("\"\\/bfnrt", *c->s) || !*c->s) {
      return -1;
    }
  }
  return -1;
}

static int digits(struct cursor *c) {
  const unsigned char *from = c->s;
  while (c->s < c->end && *c->s >= '0' && *c->s <= '9') c->s++;
  return c->s > from ? 0 : -1;
}

static int number(struct cursor *c) {
  if (c->s < c->end && *c->s == '-') c->s++;
  if (c->s < c->end && *c->s == '0') c->s++;
  else if (digits(c) < 0) return -1;
  if (c->s < c->end && *c->s == '.') { c->s++; if (digits(c) < 0) return -1; }
  if (c->s < c->end && (*c->s == 'e' || *c->s == 'E')) {
    c->s++;
    if (c->s < c->end && (*c->s == '+' || *c->s == '-')) c->s++;
    if (digits(c) < 0) return -1;
  }
  return 0;
}

static int literal(struct cursor *c, const char *word) {
  size_t n = strlen(word);
  if ((size_t)(c->end - c->s) < n || memcmp(c->s, word, n) != 0) return -1;
  c->s += n;
  return 0;
}

/* A scalar, or the opening of a container (pushed on `stack`). */
static int value_start(struct cursor *c, char *stack, size_t *depth) {
  skip_ws(c);
  if (c->s >= c->end) return -1;
  switch (*c->s) {
  case '{': case '[': stack[(*depth)++] = (char)*c->s++; return 1;
  case '"': return string(c);
  case 't': return literal(c, "true");
  case 'f': return literal(c, "false");
  case 'n': return literal(c, "null");
  default: return number(c);
  }
}

int json_object_check(const char *buf, size_t len) {
  struct cursor c = { (const unsigned char *)buf, (const unsigned char *)buf + len };
  skip_ws(&c);
  if (c.s >= c.end || *c.s != '{') return -1;
  char *stack = malloc(len + 1);
  if (!stack) return -1;
  size_t depth = 0;
  int ok = value_start(&c, stack, &depth) == 1;
  int first = 1;   /* just after an opening bracket */
  while (ok && depth) {
    skip_ws(&c);
    char top = stack[depth - 1];
    char close = top == '{' ? '}' : ']';
    if (c.s < c.end && *c.s == close) { c.s++; depth--; first = 0; continue; }
    if (!first) {
      if (c.s >= c.end || *c.s != ',') { ok = 0; break; }
      c.s++;
    }
    if (top == '{') {
      skip_ws(&c);
      if (string(&c) < 0) { ok = 0; break; }
      skip_ws(&c);
      if (c.s >= c.end || *c.s != ':') { ok = 0; break; }
      c.s++;
    }
    int r = value_start(&c, stack, &depth);
    if (r < 0) ok = 0;
    first = r == 1;
  }
  free(stack);
  skip_ws(&c);
  return ok && c.s == c.end ? 0 : -1;
}
