/* ssh and rsh command lines: the grammar of src/ssh/argv.ts, in C for
 * exec time (the rewrite) and for the relay. */
#include "argv.h"
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

const char *argv_basename(const char *path) {
  const char *slash = strrchr(path, '/');
  return slash ? slash + 1 : path;
}

static int pass(struct remote_parse *r, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(r->reason, sizeof r->reason, fmt, ap);
  va_end(ap);
  r->pass = 1;
  return 0;
}

/* A copy of s[0..n) in the pool, or NULL when it is full. */
static const char *keep(struct remote_parse *r, const char *s, size_t n) {
  if (r->used + n + 1 > sizeof r->pool) return NULL;
  char *d = r->pool + r->used;
  memcpy(d, s, n);
  d[n] = 0;
  r->used += n + 1;
  return d;
}

static int add_option(struct remote_parse *r, const char *word) {
  if (r->noptions == REMOTE_MAX_OPTIONS) return -1;
  r->options[r->noptions++] = word;
  return 0;
}

static const char *flag_word(struct remote_parse *r, char c) {
  char w[2] = { '-', c };
  return keep(r, w, 2);
}

static int all_digits(const char *s, size_t n) {
  if (n == 0) return 0;
  for (size_t i = 0; i < n; i++) if (s[i] < '0' || s[i] > '9') return 0;
  return 1;
}

/* OpenSSH's a2port: 1-65535, or a service name (not looked up here). */
static int bad_port(const char *p, size_t n) {
  if (!all_digits(p, n)) return n == 0;
  if (n > 5) return 1;
  long v = 0;
  for (size_t i = 0; i < n; i++) v = v * 10 + (p[i] - '0');
  return v < 1 || v > 65535;
}

static int hex(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

/* %XX decoded into the pool; NULL when malformed or no room. */
static const char *url_decode(struct remote_parse *r, const char *s, size_t n) {
  if (r->used + n + 1 > sizeof r->pool) return NULL;
  char *d = r->pool + r->used, *o = d;
  for (size_t i = 0; i < n; i++) {
    if (s[i] != '%') { *o++ = s[i]; continue; }
    if (i + 2 >= n) return NULL;
    int hi = hex(s[i + 1]), lo = hex(s[i + 2]);
    if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) return NULL;
    *o++ = (char)(hi * 16 + lo);
    i += 2;
  }
  *o++ = 0;
  r->used += (size_t)(o - d);
  return d;
}

/* ssh://[user[;params]@]host[:port][/]: 0 when not a URI, 1 parsed, -1 malformed. */
static int ssh_uri(struct remote_parse *r, const char *word, const char **user, const char **host, const char **port) {
  if (strncmp(word, "ssh://", 6) != 0) return 0;
  const char *rest = word + 6;
  *user = *port = NULL;
  const char *at = strchr(rest, '@');
  if (at) {
    size_t n = (size_t)(at - rest);
    const char *semi = memchr(rest, ';', n);
    if (semi) n = (size_t)(semi - rest);
    if (n == 0 || !(*user = url_decode(r, rest, n))) return -1;
    rest = at + 1;
  }
  const char *h, *after = NULL;
  size_t hn;
  char delim = 0;
  if (rest[0] == '[') {
    const char *close = strchr(rest, ']');
    if (!close) return -1;
    char next = close[1];
    if (next && next != ':' && next != '/') return -1;
    h = rest + 1;
    hn = (size_t)(close - h);
    delim = next;
    if (next) after = close + 2;
  } else {
    size_t n = strcspn(rest, ":/");
    h = rest;
    hn = n;
    if (rest[n]) { delim = rest[n]; after = rest + n + 1; }
  }
  if (hn == 0 || !(*host = keep(r, h, hn))) return -1;
  if (after && *after) {
    if (delim == ':') {
      const char *slash = strchr(after, '/');
      size_t pn = slash ? (size_t)(slash - after) : strlen(after);
      if (!all_digits(after, pn) || bad_port(after, pn) || !(*port = keep(r, after, pn))) return -1;
      after = slash ? slash + 1 : NULL;
    }
    if (after && *after) return -1;   /* a path: not for ssh */
  }
  return 1;
}

static const char SSH_FLAGS[] = "1246ACGKMNTVXYZafgknqstvxy";
static const char SSH_VALUED[] = "BDEFIJLOPQRSWbceilmopw";

static const char *ssh_pass_flag(char c) {
  switch (c) {
  case '1': return "protocol 1";
  case 'f': return "background after login (-f)";
  case 'G': return "prints its configuration (-G)";
  case 'N': return "no remote command (-N)";
  case 's': return "subsystem (-s)";
  case 'V': return "prints its version (-V)";
  case 'Z': return "prints public keys (-Z)";
  default: return NULL;
  }
}

static const char *ssh_pass_valued(char c) {
  switch (c) {
  case 'O': return "control command (-O)";
  case 'Q': return "query (-Q)";
  case 'W': return "stdio forwarding (-W)";
  default: return NULL;
  }
}

/* -o's keyword, lower case, into buf. */
static void config_keyword(const char *line, char *buf, size_t cap) {
  while (*line == ' ' || *line == '\t' || *line == '\n' || *line == '\r' || *line == '\f' || *line == '\v') line++;
  size_t n = 0;
  while (line[n] && line[n] != '=' && line[n] != ' ' && line[n] != '\t' && line[n] != '\n' &&
         line[n] != '\r' && line[n] != '\f' && line[n] != '\v' && n + 1 < cap) {
    char c = line[n];
    buf[n++] = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
  }
  buf[n] = 0;
}

/* One getopt pass from argv[*i]: 1 when it stopped the parse (r->pass), 0 otherwise. */
static int ssh_options(char *const argv[], int *i, int *terminated, struct remote_parse *r) {
  for (; argv[*i]; (*i)++) {
    const char *w = argv[*i];
    if (strcmp(w, "--") == 0) { (*i)++; *terminated = 1; return 0; }
    if (w[0] != '-' || w[1] == 0) return 0;
    for (int k = 1; w[k]; k++) {
      char c = w[k];
      if (strchr(SSH_FLAGS, c)) {
        const char *why = ssh_pass_flag(c);
        if (why) return pass(r, "%s", why), 1;
        if (c == 'n') r->stdin_null = 1;
        else if (c != 't' && c != 'T') {
          const char *f = flag_word(r, c);
          if (!f || add_option(r, f) < 0) return pass(r, "too many options"), 1;
        }
        continue;
      }
      if (!strchr(SSH_VALUED, c)) return pass(r, "unknown option -%c", c), 1;
      const char *value;
      if (w[k + 1]) value = w + k + 1;
      else if (argv[*i + 1]) value = argv[++*i];
      else return pass(r, "-%c without its value", c), 1;
      const char *why = ssh_pass_valued(c);
      if (why) return pass(r, "%s", why), 1;
      if (c == 'l') { if (!r->user) r->user = value; break; }
      if (c == 'p') {
        if (bad_port(value, strlen(value))) return pass(r, "bad port %s", value), 1;
        if (!r->port) r->port = value;
        break;
      }
      if (c == 'o') {
        char key[64];
        config_keyword(value, key, sizeof key);
        if (!strcmp(key, "remotecommand") || !strcmp(key, "sessiontype") ||
            !strcmp(key, "forkafterauthentication") || !strcmp(key, "stdinnull"))
          return pass(r, "-o %s", key), 1;
        if (!strcmp(key, "requesttty")) break;
      }
      const char *f = flag_word(r, c);
      if (!f || add_option(r, f) < 0 || add_option(r, value) < 0) return pass(r, "too many options"), 1;
      break;
    }
  }
  return 0;
}

int ssh_parse(char *const argv[], struct remote_parse *r) {
  memset(r, 0, sizeof *r);
  int i = argv[0] ? 1 : 0, terminated = 0;
  if (ssh_options(argv, &i, &terminated, r)) return 0;
  if (argv[i]) {
    const char *word = argv[i];
    const char *user, *host, *port;
    int uri = ssh_uri(r, word, &user, &host, &port);
    if (uri < 0) return pass(r, "bad URI %s", word);
    if (uri > 0) {
      if (!r->user) r->user = user;
      if (!r->port) r->port = port;
      r->host = host;
    } else {
      const char *at = strrchr(word, '@');
      if (at == word) return pass(r, "no user before @ in %s", word);
      if (at && !r->user && !(r->user = keep(r, word, (size_t)(at - word)))) return pass(r, "too long");
      r->host = at ? at + 1 : word;
    }
    i++;
    if (argv[i] && !terminated && ssh_options(argv, &i, &terminated, r)) return 0;
  }
  if (!r->host || !r->host[0]) return pass(r, "no destination");
  if (!argv[i]) return pass(r, "no remote command (a login shell)");
  r->command = i;
  return 0;
}

int rsh_parse(char *const argv[], struct remote_parse *r) {
  memset(r, 0, sizeof *r);
  int i = argv[0] ? 1 : 0;
  for (; argv[i]; i++) {
    const char *w = argv[i];
    if (strcmp(w, "--") == 0) { i++; break; }
    if (w[0] != '-' || w[1] == 0) break;
    for (int k = 1; w[k]; k++) {
      char c = w[k];
      if (c == '4' || c == '6' || c == 'v') {
        const char *f = flag_word(r, c);
        if (!f || add_option(r, f) < 0) return pass(r, "too many options");
        continue;
      }
      if (c != 'l' && c != 'p') return pass(r, "unknown option -%c", c);
      const char *value;
      if (w[k + 1]) value = w + k + 1;
      else if (argv[i + 1]) value = argv[++i];
      else return pass(r, "-%c without its value", c);
      if (c == 'l') r->user = value; else r->port = value;
      break;
    }
  }
  if (!argv[i]) return pass(r, "no destination");
  const char *word = argv[i++];
  const char *at = strchr(word, '@');
  if (at) {
    if (!(r->user = keep(r, word, (size_t)(at - word)))) return pass(r, "too long");
    r->host = at + 1;
  } else {
    r->host = word;
  }
  if (!r->host[0]) return pass(r, "no destination");
  if (!argv[i]) return pass(r, "no remote command (rlogin)");
  r->command = i;
  return 0;
}

int remote_parse(const char *name, char *const argv[], struct remote_parse *r) {
  const char *base = argv_basename(name);
  if (!strcmp(base, "ssh")) return ssh_parse(argv, r);
  if (!strcmp(base, "rsh")) return rsh_parse(argv, r);
  return -1;
}
