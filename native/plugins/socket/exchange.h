/* Putting bytes in flight back into a TCP connection whose two ends are
 * held by two different parties (two processes going on after a
 * checkpoint: giveback.c; two restart loaders: loader_xtcp.c). Each end
 * holds what was in flight toward it; it sends that to its peer ("LEN\n"
 * and the bytes), reads what the peer holds — which is what this end had
 * sent — and, once its own share is out, sends that again: every queue
 * then holds what it held, in order. Header-only: the library and the
 * static loader each build it (no malloc: mmap'd buffers). */
#ifndef STASIS_EXCHANGE_H
#define STASIS_EXCHANGE_H
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <time.h>

struct exchange {
  int fd, done;
  const char *mine;          /* what was in flight toward this end */
  size_t mine_len, head_len, out1;
  char head[24], in_head[24];
  size_t in_head_len, back_len, back_got, out2, back_cap;
  char *back;                /* what the peer held: sent again */
};

static inline void exchange_init(struct exchange *x, int fd, const char *mine, size_t len) {
  memset(x, 0, sizeof *x);
  x->fd = fd;
  x->mine = mine;
  x->mine_len = len;
  x->head_len = (size_t)snprintf(x->head, sizeof x->head, "%zu\n", len);
  x->back_len = (size_t)-1;
}

static inline double exchange_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* One connection, as far as it goes without blocking. */
static inline void exchange_step(struct exchange *f) {
  int fd = f->fd;
  size_t total1 = f->head_len + f->mine_len;
  while (f->out1 < total1) {   /* what I hold, to its sender */
    const char *p = f->out1 < f->head_len ? f->head + f->out1 : f->mine + (f->out1 - f->head_len);
    size_t len = f->out1 < f->head_len ? f->head_len - f->out1 : total1 - f->out1;
    ssize_t w = send(fd, p, len, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (w <= 0) break;
    f->out1 += (size_t)w;
  }
  while (f->back_len == (size_t)-1 && f->in_head_len < sizeof f->in_head - 1) {   /* what it holds: the length */
    ssize_t g = recv(fd, f->in_head + f->in_head_len, 1, MSG_DONTWAIT);
    if (g <= 0) break;
    if (f->in_head[f->in_head_len++] == '\n') {
      f->in_head[f->in_head_len] = 0;
      f->back_len = strtoull(f->in_head, NULL, 10);
      f->back_cap = f->back_len ? (f->back_len + 4095) & ~(size_t)4095 : 0;
      if (f->back_cap) {
        f->back = mmap(NULL, f->back_cap, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (f->back == MAP_FAILED) { f->back = NULL; f->back_cap = 0; f->back_len = 0; }
      }
    }
  }
  while (f->back_len != (size_t)-1 && f->back_got < f->back_len) {   /* ... and the bytes */
    ssize_t g = recv(fd, f->back + f->back_got, f->back_len - f->back_got, MSG_DONTWAIT);
    if (g <= 0) break;
    f->back_got += (size_t)g;
  }
  while (f->out1 == total1 && f->back_len != (size_t)-1 && f->back_got == f->back_len && f->out2 < f->back_len) {   /* sent again, after */
    ssize_t w = send(fd, f->back + f->out2, f->back_len - f->out2, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (w <= 0) {
      int buf = -1;   /* what the queues held before must fit again */
      socklen_t n = sizeof buf;
      if (w < 0 && errno == EAGAIN && getsockopt(fd, SOL_SOCKET, SO_SNDBUF, &buf, &n) == 0 && buf > 0 && buf < (64 << 20))
        setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &buf, sizeof buf);
      break;
    }
    f->out2 += (size_t)w;
  }
  if (f->out1 == total1 && f->back_len != (size_t)-1 && f->out2 == f->back_len) f->done = 1;
}

/* Every connection of `x` at once (the peers may wait for one another);
 * the number not done within `seconds`. Frees what it mapped. */
static inline int exchange_run(struct exchange *x, int n, double seconds) {
  struct pollfd pfd[n > 0 ? n : 1];
  int left = 0;
  for (int k = 0; k < n; k++) left += !x[k].done;
  for (double until = exchange_now() + seconds; left > 0 && exchange_now() < until;) {
    for (int k = 0; k < n; k++) {
      pfd[k].fd = x[k].done ? -1 : x[k].fd;
      pfd[k].events = POLLIN | POLLOUT;
    }
    if (poll(pfd, (nfds_t)n, 100) < 0 && errno != EINTR) break;
    for (int k = 0; k < n; k++) {
      if (x[k].done) continue;
      exchange_step(&x[k]);
      if (x[k].done) left--;
    }
  }
  for (int k = 0; k < n; k++) {
    if (x[k].back) munmap(x[k].back, x[k].back_cap);
    x[k].back = NULL;
  }
  return left;
}
#endif
