/* stasis-front: bin/stasis starts this, not Node. `launch`, `command` and
 * `restart` are tried here (front_launch.c, front_command.c,
 * front_restart.c); everything else, and
 * whatever those leave, goes to the Node CLI through the descriptor
 * hand-over (handover.c), exactly as bin/stasis did before.
 *   stasis-front /path/to/bin/stasis.js ARGS...
 * STASIS_FRONT=0: always Node. STASIS_FRONT=require (tests): a command the
 * fast path leaves to Node fails instead, exit 99, saying why. */
#include "front.h"
#include "handover.h"
#include "json.h"
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

static char **node_argv;
void (*before_node)(void);

_Noreturn void to_node(const char *why) {
  if (before_node) before_node();
  const char *mode = getenv("STASIS_FRONT");
  if (mode && !strcmp(mode, "require")) {
    fprintf(stderr, "stasis: left to Node: %s\n", why);
    exit(99);
  }
  exit(handover_exec(node_argv));
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: stasis-front path/to/stasis.js [args...]\n");
    return 2;
  }
  /* node stasis.js ARGS: argv[0] becomes "node". */
  node_argv = argv;
  argv[0] = "node";
  const char *mode = getenv("STASIS_FRONT");
  if (!(mode && !strcmp(mode, "0")) && argc > 2) {
    if (!strcmp(argv[2], "launch")) fast_launch(argc - 3, argv + 3);
    if (!strcmp(argv[2], "command")) fast_command(argc - 3, argv + 3);
    if (!strcmp(argv[2], "restart")) fast_restart(argc - 3, argv + 3);
  }
  to_node("not a fast command");
}

/* Node's posix normalize of an absolute or relative path. */
static char *normalize(const char *p) {
  size_t len = strlen(p);
  char *out = malloc(len + 3);
  const char **part = malloc((len / 2 + 2) * sizeof *part);
  size_t *plen = malloc((len / 2 + 2) * sizeof *plen);
  if (!out || !part || !plen) { free(out); free(part); free(plen); return NULL; }
  int abs = p[0] == '/';
  size_t n = 0;
  while (*p) {
    while (*p == '/') p++;
    const char *e = strchrnul(p, '/');
    size_t l = (size_t)(e - p);
    int dotdot = l == 2 && p[0] == '.' && p[1] == '.';
    if (l == 0 || (l == 1 && p[0] == '.')) { /* nothing */ }
    else if (dotdot && n && !(plen[n - 1] == 2 && !strncmp(part[n - 1], "..", 2))) n--;
    else if (!dotdot || !abs) { part[n] = p; plen[n++] = l; }
    p = e;
  }
  size_t o = 0;
  if (abs) out[o++] = '/';
  for (size_t i = 0; i < n; i++) {
    if (i) out[o++] = '/';
    memcpy(out + o, part[i], plen[i]);
    o += plen[i];
  }
  if (o == 0) out[o++] = '.';
  out[o] = 0;
  free(part);
  free(plen);
  return out;
}

char *resolve_path(const char *p) {
  if (p[0] == '/') return normalize(p);
  char cwd[PATH_MAX];
  if (!getcwd(cwd, sizeof cwd)) return NULL;
  char *both = malloc(strlen(cwd) + strlen(p) + 2);
  if (!both) return NULL;
  sprintf(both, "%s/%s", cwd, p);
  char *r = normalize(both);
  free(both);
  return r;
}

char *join_path(const char *a, const char *b) {
  char *both = malloc(strlen(a) + strlen(b) + 2);
  if (!both) return NULL;
  sprintf(both, "%s%s%s", a, *a ? "/" : "", b);
  char *r = normalize(both);
  free(both);
  return r;
}

char *read_file(const char *file, size_t max) {
  int fd = open(file, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return NULL;
  char *buf = malloc(max + 1);
  size_t len = 0;
  ssize_t r;
  while (buf && len < max && (r = read(fd, buf + len, max - len)) > 0) len += (size_t)r;
  close(fd);
  if (!buf || len == max) { free(buf); return NULL; }
  buf[len] = 0;
  if (strlen(buf) != len) { free(buf); return NULL; }   /* a NUL inside: Node's business */
  return buf;
}

char *read_token(const char *file) {
  char *t = read_file(file, 4096);
  if (!t) return NULL;
  char *s = t, *e = t + strlen(t);
  while (*s && strchr(" \t\n\r\v\f", *s)) s++;
  while (e > s && strchr(" \t\n\r\v\f", e[-1])) e--;
  *e = 0;
  memmove(t, s, (size_t)(e - s) + 1);
  /* Anything but printable ASCII: JavaScript's trim differs; leave it to Node. */
  for (char *c = t; *c; c++) if (*c < 0x21 || *c > 0x7e) { free(t); return NULL; }
  return t;
}

/* A TCP connection to host:port within ms (publishedAlive's probe). */
static int reachable(const char *host, int port, int ms) {
  struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res;
  char service[16];
  snprintf(service, sizeof service, "%d", port);
  if (getaddrinfo(host, service, &hints, &res)) return 0;
  int ok = 0;
  for (struct addrinfo *a = res; a && !ok; a = a->ai_next) {
    int s = socket(a->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (s < 0) continue;
    if (connect(s, a->ai_addr, a->ai_addrlen) == 0) ok = 1;
    else if (errno == EINPROGRESS) {
      struct pollfd p = { s, POLLOUT, 0 };
      int err = 0;
      socklen_t l = sizeof err;
      ok = poll(&p, 1, ms) == 1 && getsockopt(s, SOL_SOCKET, SO_ERROR, &err, &l) == 0 && err == 0;
    }
    close(s);
  }
  freeaddrinfo(res);
  return ok;
}

/* kill(pid, 0) finds a zombie until it is reaped (a subreaper may take its
 * time): it has ended all the same (pidAlive in publish.ts). */
static int pid_running(pid_t pid) {
  if (kill(pid, 0) && errno != EPERM) return 0;
  char path[64];
  snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
  char *stat = read_file(path, 4096);
  const char *end = stat ? strrchr(stat, ')') : NULL;
  int ended = end && end[1] == ' ' && (end[2] == 'Z' || end[2] == 'X');
  free(stat);
  return !ended;
}

int live_coordinator(const char *dir, char **host, int *port) {
  char *file = join_path(dir, "coordinator.json");
  char *text = file ? read_file(file, 65536) : NULL;
  free(file);
  struct json *j = text ? json_parse(text) : NULL;
  free(text);
  const struct json *h = json_get(j, "host"), *po = json_get(j, "port"), *pid = json_get(j, "pid"), *nd = json_get(j, "node");
  int found = 0;
  if (h && h->type == J_STR && po && po->type == J_NUM && pid && pid->type == J_NUM
      && po->num == (int)po->num && po->num > 0 && po->num < 65536 && pid->num == (int)pid->num && pid->num > 0
      && (!nd || nd->type == J_STR || nd->type == J_NULL)) {
    struct utsname u;
    uname(&u);
    int here = !nd || nd->type == J_NULL || !*nd->str || !strcmp(nd->str, u.nodename);
    if (here) found = pid_running((pid_t)pid->num);
    else found = reachable(h->str, (int)po->num, 2000);
    if (found) { *host = strdup(h->str); *port = (int)po->num; }
  }
  json_free(j);
  return found;
}

long long parse_whole(const char *s, long long max) {
  if (!*s || strlen(s) > 18) return -1;
  long long v = 0;
  for (const char *c = s; *c; c++) {
    if (*c < '0' || *c > '9') return -1;
    v = v * 10 + (*c - '0');
  }
  return v <= max ? v : -1;
}
