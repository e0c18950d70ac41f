/* N simulated processes for bench/coordinator.sh: N connections to a
 * coordinator, each a process client of docs/protocol.md answering the
 * checkpoint barriers at once (an empty image made at SAVE, not fsynced:
 * a real process writes and fsyncs its own image, in parallel with the
 * others, which bench/checkpoint.sh measures), all from
 * one thread (epoll); so what a round costs is the
 * coordinator's. Virtual and kernel pids FIRST..FIRST+N-1 (no such process
 * runs here: none is ever looked for, as none reports children).
 *   sim-procs HOST PORT TOKEN N [FIRST]     prints "joined N", runs until KILL or killed */
#include <fcntl.h>
#include <netdb.h>
#include <sys/epoll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/utsname.h>
#include <unistd.h>

struct sim { int fd; char buf[65536]; size_t len; };

static void say(int fd, const char *line) {
  size_t n = strlen(line), done = 0;
  while (done < n) {
    ssize_t w = write(fd, line + done, n - done);
    if (w <= 0) { perror("sim-procs: write"); exit(1); }
    done += (size_t)w;
  }
}

static char *decode(const char *s, char *out) {
  char *o = out;
  for (; *s; s++) {
    unsigned v;
    if (*s == '%' && sscanf(s + 1, "%2x", &v) == 1) { *o++ = (char)v; s += 2; } else *o++ = *s;
  }
  *o = 0;
  return out;
}

/* One line from the coordinator: the answer to a barrier, or nothing. */
static void answer(struct sim *p, char *line) {
  if (!strncmp(line, "SUSPEND ", 8)) say(p->fd, "SUSPENDED\n");
  else if (!strcmp(line, "CONNS")) say(p->fd, "CONNS\n");
  else if (!strncmp(line, "DRAIN", 5)) say(p->fd, "DRAINED\n");
  else if (!strncmp(line, "SAVE ", 5)) {
    char path[65536];
    int fd = open(decode(line + 5, path), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) { say(p->fd, "FAILED cannot%20create%20the%20image\n"); return; }
    close(fd);
    say(p->fd, "SAVED 0 crc32c:00000000 1 1 1\n");
  } else if (!strncmp(line, "RESUME ", 7)) say(p->fd, "RESUMED\n");
  else if (!strcmp(line, "KILL")) exit(0);
}

int main(int argc, char **argv) {
  if (argc < 5) { fprintf(stderr, "usage: sim-procs HOST PORT TOKEN N [FIRST]\n"); return 2; }
  int n = atoi(argv[4]), first = argc > 5 ? atoi(argv[5]) : 3000000;
  struct rlimit rl;
  getrlimit(RLIMIT_NOFILE, &rl);
  rl.rlim_cur = rl.rlim_max;
  setrlimit(RLIMIT_NOFILE, &rl);
  struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *ai;
  if (getaddrinfo(argv[1], argv[2], &hints, &ai)) { fprintf(stderr, "sim-procs: cannot resolve %s\n", argv[1]); return 1; }
  struct utsname u;
  uname(&u);
  struct sim *sims = calloc((size_t)n, sizeof *sims);
  int ep = epoll_create1(EPOLL_CLOEXEC);
  char hello[512];
  for (int i = 0; i < n; i++) {
    sims[i].fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (sims[i].fd < 0 || connect(sims[i].fd, ai->ai_addr, ai->ai_addrlen)) { perror("sim-procs: connect"); return 1; }
    snprintf(hello, sizeof hello, "HELLO 1 %s proc %d %s sim 0 - %d %s\n", argv[3], first + i, u.nodename, first + i, u.nodename);
    say(sims[i].fd, hello);
    struct epoll_event ev = { .events = EPOLLIN, .data.u32 = (unsigned)i };
    epoll_ctl(ep, EPOLL_CTL_ADD, sims[i].fd, &ev);
  }
  int welcomed = 0;
  for (;;) {
    struct epoll_event ready[256];
    int k = epoll_wait(ep, ready, 256, -1);
    if (k < 0) { perror("sim-procs: epoll_wait"); return 1; }
    for (int j = 0; j < k; j++) {
      int i = (int)ready[j].data.u32;
      struct sim *p = &sims[i];
      ssize_t r = read(p->fd, p->buf + p->len, sizeof p->buf - 1 - p->len);
      if (r <= 0) { fprintf(stderr, "sim-procs: process %d: the coordinator closed the connection\n", first + i); return 1; }
      p->len += (size_t)r;
      char *nl;
      while ((nl = memchr(p->buf, '\n', p->len))) {
        *nl = 0;
        if (!strncmp(p->buf, "WELCOME ", 8) && ++welcomed == n) { printf("joined %d\n", n); fflush(stdout); }
        else if (!strncmp(p->buf, "DENIED", 6)) { fprintf(stderr, "sim-procs: %s\n", p->buf); return 1; }
        else answer(p, p->buf);
        p->len -= (size_t)(nl + 1 - p->buf);
        memmove(p->buf, nl + 1, p->len);
      }
    }
  }
}
