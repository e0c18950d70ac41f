/* The checkpoint thread's connection to the coordinator (docs/protocol.md).
 * Numeric addresses only: name lookup allocates, and at restart any
 * suspended thread may hold the malloc lock. */
#include "core.h"
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

int coord_fd = -1;
static char inbuf[COORD_LINE_MAX];   /* one whole line, newline included */
static size_t inlen;

/* Keep our socket out of the program's way: a high descriptor number. */
static int move_high(int fd) {
  struct rlimit rl;
  int target = 1000;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < 1024) target = (int)rl.rlim_cur - 24;
  int hi = fcntl(fd, F_DUPFD_CLOEXEC, target > 3 ? target : 3);
  if (hi < 0) return fd;
  close(fd);
  return hi;
}

void coord_encode(char *out, size_t cap, const char *s) {
  static const char ok[] = "-._~/:,=+@";
  size_t n = 0;
  for (; *s && n + 4 < cap; s++) {
    unsigned char c = *s;
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || strchr(ok, c)) out[n++] = c;
    else n += snprintf(out + n, cap - n, "%%%02X", c);
  }
  out[n] = 0;
}

int coord_connect(int restored, const char *image) {
  const char *addr = restored ? stasis_restart_info.coord : stasis_cfg.coord;
  const char *token = restored ? stasis_restart_info.token : stasis_cfg.token;
  char host[256];
  snprintf(host, sizeof host, "%s", addr);
  char *colon = strrchr(host, ':');
  if (!colon) { stasis_log("bad coordinator address '%s' (want host:port)", addr); return -1; }
  *colon = 0;
  int port = atoi(colon + 1);
  char *h = host;
  if (h[0] == '[') { h++; h[strlen(h) - 1] = 0; }
  struct sockaddr_storage ss;
  socklen_t slen;
  memset(&ss, 0, sizeof ss);
  struct sockaddr_in *s4 = (void *)&ss;
  struct sockaddr_in6 *s6 = (void *)&ss;
  if (strcmp(h, "localhost") == 0) h = "127.0.0.1";
  if (inet_pton(AF_INET, h, &s4->sin_addr) == 1) {
    s4->sin_family = AF_INET; s4->sin_port = htons(port); slen = sizeof *s4;
  } else if (inet_pton(AF_INET6, h, &s6->sin6_addr) == 1) {
    s6->sin6_family = AF_INET6; s6->sin6_port = htons(port); slen = sizeof *s6;
  } else {
    stasis_log("coordinator address must be numeric: '%s'", addr);
    return -1;
  }
  /* A restored process may start before its coordinator listens
   * (stasis restart starts both at once): keep trying for a while. */
  int fd = -1;
  for (int attempt = 0;; attempt++) {
    fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd >= 0 && connect(fd, (void *)&ss, slen) == 0) break;
    int err = errno;
    if (fd >= 0) close(fd);
    if (!restored || err != ECONNREFUSED || attempt >= 750) {
      stasis_log("cannot reach coordinator %s: %s", addr, strerror(err));
      return -1;
    }
    struct timespec ts = { 0, 20 * 1000000 };
    nanosleep(&ts, NULL);
  }
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  coord_fd = move_high(fd);
  stasis_internal_fds[0] = coord_fd;
  inlen = 0;
  struct utsname u;
  uname(&u);
  char comm[64] = "", enc_comm[200], enc_img[8192];
  int cfd = open("/proc/self/comm", O_RDONLY | O_CLOEXEC);
  if (cfd >= 0) {
    ssize_t n = read(cfd, comm, sizeof comm - 1);
    close(cfd);
    if (n > 0) comm[n - (comm[n - 1] == '\n')] = 0;
  }
  coord_encode(enc_comm, sizeof enc_comm, comm[0] ? comm : "?");
  coord_encode(enc_img, sizeof enc_img, image && *image ? image : "-");
  /* pid: as the program knows it (virtual); the kernel's follows. */
  if (coord_send("HELLO 1 %s proc %d %s %s %d %s %ld", token, getpid(), u.nodename, enc_comm,
                 restored ? 1 : 0, enc_img, syscall(SYS_getpid)) < 0) return -1;
  static char line[COORD_LINE_MAX];   /* PIDS lines come before WELCOME */
  int got;
  while ((got = coord_read_line(line, sizeof line)) > 0 && strncmp(line, "WELCOME ", 8) != 0 && coord_dispatch_line(line)) {}
  if (got <= 0 || strncmp(line, "WELCOME ", 8) != 0) {
    stasis_log("coordinator %s refused us: %s", addr, line[0] ? line : "connection closed");
    coord_close();
    return -1;
  }
  return 0;
}

int coord_send(const char *fmt, ...) {
  char buf[16384];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(buf, sizeof buf - 1, fmt, ap);
  va_end(ap);
  if (n < 0 || n >= (int)sizeof buf - 1) return -1;
  buf[n++] = '\n';
  for (int off = 0; off < n;) {
    ssize_t w = send(coord_fd, buf + off, n - off, MSG_NOSIGNAL);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return -1;
    off += w;
  }
  return 0;
}

/* One line without its newline; 0 at end of stream, -1 on error, -2 for a
 * line longer than `cap` - 1 or than the protocol allows (never cut). */
int coord_read_line(char *out, size_t cap) {
  out[0] = 0;
  for (;;) {
    char *nl = memchr(inbuf, '\n', inlen);
    if (nl) {
      size_t len = nl - inbuf;
      if (len >= cap) {
        stasis_log("coordinator line of %zu bytes does not fit (at most %zu): '%.40s...'", len, cap - 1, inbuf);
        return -2;
      }
      memcpy(out, inbuf, len);
      out[len] = 0;
      memmove(inbuf, nl + 1, inlen - len - 1);
      inlen -= len + 1;
      return 1;
    }
    if (inlen == sizeof inbuf) {
      stasis_log("coordinator line longer than the protocol's %zu bytes: '%.40s...'", sizeof inbuf, inbuf);
      return -2;
    }
    ssize_t r = recv(coord_fd, inbuf + inlen, sizeof inbuf - inlen, 0);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return r == 0 ? 0 : -1;
    inlen += r;
  }
}

void coord_close(void) {
  if (coord_fd >= 0) close(coord_fd);
  coord_fd = -1;
  stasis_internal_fds[0] = -1;
}

/* Percent-decoding of one argument, in place. */
void coord_decode(char *s) {
  char *o = s;
  for (; *s; s++) {
    if (*s == '%' && s[1] && s[2]) {
      char hex[3] = { s[1], s[2], 0 };
      *o++ = (char)strtol(hex, NULL, 16);
      s += 2;
    } else *o++ = *s;
  }
  *o = 0;
}

#define MAX_LINE_HANDLERS 8
static struct { const char *verb; void (*fn)(const char *); } handlers[MAX_LINE_HANDLERS];
static int nhandlers;

void stasis_on_coord_line(const char *verb, void (*fn)(const char *args)) {
  if (nhandlers < MAX_LINE_HANDLERS) handlers[nhandlers++] = (typeof(handlers[0])){ verb, fn };
}

int coord_dispatch_line(const char *line) {
  for (int i = 0; i < nhandlers; i++) {
    size_t n = strlen(handlers[i].verb);
    if (strncmp(line, handlers[i].verb, n) == 0 && (line[n] == ' ' || line[n] == 0)) {
      handlers[i].fn(line[n] ? line + n + 1 : "");
      return 1;
    }
  }
  return 0;
}
