/* The checkpoint thread's connection to the coordinator (docs/protocol.md).
 * Numeric addresses only: name lookup allocates, and at restart any
 * suspended thread may hold the malloc lock. */
#include "core.h"
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sched.h>
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
int stasis_orphaned;
static char inbuf[COORD_LINE_MAX];   /* one whole line, newline included */
static size_t inlen;

/* Keep our socket out of the program's way: a high descriptor number. */
int stasis_move_high(int fd) {
  struct rlimit rl;
  int target = 1000;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < 1024) target = (int)rl.rlim_cur - 24;
  int hi = fcntl(fd, F_DUPFD_CLOEXEC, target > 3 ? target : 3);
  if (hi < 0) return fd;
  close(fd);
  return hi;
}

/* Grows the descriptor table up to where stasis_move_high puts descriptors
 * while this process has one thread. Grown later, from the checkpoint thread,
 * the table is shared and the kernel waits for an RCU grace period: about
 * 10 ms of every start of a program whose table was small (bench/launch.sh). */
void stasis_grow_fd_table(void) {
  int fd = open("/", O_PATH | O_CLOEXEC);
  if (fd >= 0) close(stasis_move_high(fd));
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

static char last_error[512];

/* Connected socket to host:port (numeric), or -1 with last_error set. A
 * restored process retries a refused connection (stasis restart starts it
 * and its coordinator at once); a connection that hangs (a host that is
 * gone) is given up after a few seconds. */
static int dial(const char *addr, int retry_refused) {
  char host[256];
  snprintf(host, sizeof host, "%s", addr);
  char *colon = strrchr(host, ':');
  if (!colon) { snprintf(last_error, sizeof last_error, "bad coordinator address '%s' (want host:port)", addr); return -1; }
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
    snprintf(last_error, sizeof last_error, "coordinator address must be numeric: '%s'", addr);
    return -1;
  }
  for (int attempt = 0;; attempt++) {
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) { snprintf(last_error, sizeof last_error, "socket: %s", strerror(errno)); return -1; }
    int err = connect(fd, (void *)&ss, slen) == 0 ? 0 : errno;
    if (err == EINPROGRESS) {
      struct pollfd pfd = { fd, POLLOUT, 0 };
      socklen_t len = sizeof err;
      err = poll(&pfd, 1, 5000) == 1 && getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0 ? err : ETIMEDOUT;
    }
    if (err == 0) {
      fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
      return fd;
    }
    close(fd);
    if (!retry_refused || err != ECONNREFUSED || attempt >= 750) {
      snprintf(last_error, sizeof last_error, "cannot reach coordinator %s: %s", addr, strerror(err));
      return -1;
    }
    struct timespec ts = { 0, 20 * 1000000 };
    nanosleep(&ts, NULL);
  }
}

void coord_decode(char *s);

/* HELLO on a new connection; 0 once WELCOMEd (the store directory it names
 * becomes ours), else -1 with last_error set. `kind`: 0 new, 1 restored,
 * 2 a running process joining a new coordinator. */
static int hello(int fd, const char *addr, const char *token, int kind, const char *image) {
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  coord_fd = stasis_move_high(fd);
  stasis_internal_fds[0] = coord_fd;
  inlen = 0;
  struct utsname u;
  uname(&u);
  char comm[64] = "", enc_comm[200], enc_img[8192], enc_origin[3 * STASIS_HOST_MAX];
  int cfd = open("/proc/self/comm", O_RDONLY | O_CLOEXEC);
  if (cfd >= 0) {
    ssize_t n = read(cfd, comm, sizeof comm - 1);
    close(cfd);
    if (n > 0) comm[n - (comm[n - 1] == '\n')] = 0;
  }
  coord_encode(enc_comm, sizeof enc_comm, comm[0] ? comm : "?");
  coord_encode(enc_img, sizeof enc_img, image && *image ? image : "-");
  coord_encode(enc_origin, sizeof enc_origin, stasis_origin);
  /* pid: as the program knows it (virtual); the kernel's follows, then
   * the origin host, where that virtual pid is unique. */
  if (coord_send("HELLO 1 %s proc %d %s %s %d %s %ld %s", token, getpid(), u.nodename, enc_comm,
                 kind, enc_img, syscall(SYS_getpid), enc_origin) < 0) {
    snprintf(last_error, sizeof last_error, "coordinator %s: connection lost", addr);
    coord_close();
    return -1;
  }
  static char line[COORD_LINE_MAX];   /* PIDS lines come before WELCOME */
  int got;
  while ((got = coord_read_line(line, sizeof line)) > 0 && strncmp(line, "WELCOME ", 8) != 0 && coord_dispatch_line(line)) {}
  if (got <= 0 || strncmp(line, "WELCOME ", 8) != 0) {
    snprintf(last_error, sizeof last_error, "coordinator %.200s refused us: %.200s", addr, line[0] ? line : "connection closed");
    coord_close();
    return -1;
  }
  stasis_orphaned = 0;   /* a member of this coordinator's run now */
  const char *dir = strchr(line + 8, ' ');
  if (dir && dir[1]) {
    snprintf(stasis_cfg.ckpt_dir, sizeof stasis_cfg.ckpt_dir, "%s", dir + 1);
    coord_decode(stasis_cfg.ckpt_dir);
  }
  return 0;
}

static int connect_to(const char *addr, const char *token, int kind, const char *image) {
  int fd = dial(addr, kind == 1);
  return fd < 0 ? -1 : hello(fd, addr, token, kind, image);
}

/* The coordinator serving our store now, as it published itself there
 * (docs/protocol.md, Lifetime): into addr and token; 0, or -1. A process
 * of an earlier run (kind 2) never joins a private coordinator: that one
 * serves a new launch or restart of the job. */
static int store_coordinator(char *addr, size_t acap, char *token, size_t tcap, int kind) {
  if (!stasis_cfg.ckpt_dir[0]) return -1;
  char path[1100], json[1024];
  snprintf(path, sizeof path, "%s/coordinator.json", stasis_cfg.ckpt_dir);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  ssize_t n = read(fd, json, sizeof json - 1);
  close(fd);
  if (n <= 0) return -1;
  json[n] = 0;
  const char *h = strstr(json, "\"host\":\""), *p = strstr(json, "\"port\":");
  if (!h || !p || (kind == 2 && strstr(json, "\"private\":true"))) return -1;
  h += 8;
  const char *q = strchr(h, '"');
  int port = atoi(p + 7);
  if (!q || q - h > 200 || port <= 0) return -1;
  int v6 = memchr(h, ':', q - h) != NULL;
  snprintf(addr, acap, "%s%.*s%s:%d", v6 ? "[" : "", (int)(q - h), h, v6 ? "]" : "", port);
  snprintf(path, sizeof path, "%s/token", stasis_cfg.ckpt_dir);
  if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) return -1;
  n = read(fd, token, tcap - 1);
  close(fd);
  if (n <= 0) return -1;
  token[n] = 0;
  token[strcspn(token, "\r\n")] = 0;
  return 0;
}

/* Joins the coordinator the store names, if it is not the one at `addr`
 * with `token`; it becomes ours. 0, or -1. */
static int connect_via_store(const char *addr, const char *token, int kind, const char *image) {
  char now_addr[sizeof stasis_cfg.coord], now_token[sizeof stasis_cfg.token];
  if (store_coordinator(now_addr, sizeof now_addr, now_token, sizeof now_token, kind) < 0) return -1;
  if (strcmp(now_addr, addr) == 0 && strcmp(now_token, token) == 0) return -1;
  if (connect_to(now_addr, now_token, kind, image) < 0) return -1;
  snprintf(stasis_cfg.coord, sizeof stasis_cfg.coord, "%s", now_addr);
  snprintf(stasis_cfg.token, sizeof stasis_cfg.token, "%s", now_token);
  return 0;
}

/* The address we were given, else (an environment copied before a
 * restart, a coordinator replaced) the one our store names now. `kind` as
 * in HELLO: 0 new, 1 restored, 2 of a run whose coordinator is gone. */
int coord_connect(int kind, const char *image) {
  const char *addr = kind == 1 ? stasis_restart_info.coord : stasis_cfg.coord;
  const char *token = kind == 1 ? stasis_restart_info.token : stasis_cfg.token;
  if (connect_to(addr, token, kind, image) == 0) return 0;
  char first[sizeof last_error];
  snprintf(first, sizeof first, "%s", last_error);
  if (connect_via_store(addr, token, kind, image) == 0) {
    stasis_debug("%s; joined %s, which serves %s now", first, stasis_cfg.coord, stasis_cfg.ckpt_dir);
    return 0;
  }
  stasis_log("%s", first);
  return -1;
}

/* A running process without coordinator joins the one its store names,
 * if any answers. Quiet: it is tried again and again. */
int coord_rejoin(void) {
  return connect_via_store("", "", stasis_orphaned ? 2 : 0, "-");
}

volatile int coord_sending;

int coord_send(const char *fmt, ...) {
  char buf[16384];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(buf, sizeof buf - 1, fmt, ap);
  va_end(ap);
  if (n < 0 || n >= (int)sizeof buf - 1) return -1;
  buf[n++] = '\n';
  /* The checkpoint thread sends, and a thread on its way into exec (EXEC
   * 1), with every signal blocked (a handler could exec). A child forked
   * meanwhile starts with the lock free (init.c, in_child). */
  sigset_t all, old;
  sigfillset(&all);
  syscall(SYS_rt_sigprocmask, SIG_BLOCK, &all, &old, 8);
  while (__atomic_exchange_n(&coord_sending, 1, __ATOMIC_ACQUIRE)) sched_yield();
  int rc = 0;
  for (int off = 0; off < n;) {
    ssize_t w = send(coord_fd, buf + off, n - off, MSG_NOSIGNAL);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) { rc = -1; break; }
    off += w;
  }
  __atomic_store_n(&coord_sending, 0, __ATOMIC_RELEASE);
  syscall(SYS_rt_sigprocmask, SIG_SETMASK, &old, NULL, 8);
  return rc;
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

int coord_line_buffered(void) { return memchr(inbuf, '\n', inlen) != NULL; }

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
