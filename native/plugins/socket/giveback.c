/* Giving back what DRAIN took out of the job's TCP connections, when the
 * same processes go on after the checkpoint (committed or not): each end
 * sends its peer what it read ("LEN\n" and the bytes), reads what the peer
 * read — which is what it had sent itself — and, once its own share is
 * out, sends that again. Every queue then holds what it held, in order,
 * before any thread of the program runs. */
#include "../../core/core.h"
#include "tcp.h"
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#define GIVE_BACK_SECONDS 20

static int get_int(int fd, int level, int name) {
  int v = -1;
  socklen_t n = sizeof v;
  return getsockopt(fd, level, name, &v, &n) < 0 ? -1 : v;
}

struct refill { struct tcp_sock *t; size_t head_len, out1, back_len, back_got, out2; char head[24], in_head[24]; size_t in_head_len; struct growbuf back; int done; };

void tcp_give_back(void) {
  static struct refill r[MAX_TCP];
  int n = 0;
  for (int i = 0; i < ntcps; i++)
    if (tcps[i].taken == TAKEN_DRAINED) {
      memset(&r[n], 0, sizeof r[n]);
      r[n].t = &tcps[i];
      r[n].head_len = (size_t)snprintf(r[n].head, sizeof r[n].head, "%zu\n", tcps[i].in.len);
      r[n].back_len = (size_t)-1;
      n++;
    }
  int left = n;
  double until = tcp_now() + GIVE_BACK_SECONDS;
  struct pollfd pfd[MAX_TCP];
  while (left > 0 && tcp_now() < until) {
    for (int k = 0; k < n; k++) {
      pfd[k].fd = r[k].done ? -1 : r[k].t->fd;
      pfd[k].events = POLLIN | POLLOUT;
    }
    if (poll(pfd, (nfds_t)n, 100) < 0 && errno != EINTR) break;
    for (int k = 0; k < n; k++) {
      struct refill *f = &r[k];
      if (f->done) continue;
      int fd = f->t->fd;
      size_t total1 = f->head_len + f->t->in.len;
      while (f->out1 < total1) {   /* what I read, to its sender */
        const char *p = f->out1 < f->head_len ? f->head + f->out1 : f->t->in.data + (f->out1 - f->head_len);
        size_t len = f->out1 < f->head_len ? f->head_len - f->out1 : total1 - f->out1;
        ssize_t w = send(fd, p, len, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (w <= 0) break;
        f->out1 += (size_t)w;
      }
      while (f->back_len == (size_t)-1 && f->in_head_len < sizeof f->in_head - 1) {   /* what it read: the length */
        ssize_t g = recv(fd, f->in_head + f->in_head_len, 1, MSG_DONTWAIT);
        if (g <= 0) break;
        if (f->in_head[f->in_head_len++] == '\n') {
          f->in_head[f->in_head_len] = 0;
          f->back_len = strtoull(f->in_head, NULL, 10);
          if (growbuf_reserve(&f->back, f->back_len) < 0) f->back_len = 0;
        }
      }
      while (f->back_len != (size_t)-1 && f->back_got < f->back_len) {   /* ... and the bytes */
        ssize_t g = recv(fd, f->back.data + f->back_got, f->back_len - f->back_got, MSG_DONTWAIT);
        if (g <= 0) break;
        f->back_got += (size_t)g;
      }
      while (f->out1 == total1 && f->back_len != (size_t)-1 && f->back_got == f->back_len && f->out2 < f->back_len) {   /* sent again, after */
        ssize_t w = send(fd, f->back.data + f->out2, f->back_len - f->out2, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (w <= 0) {
          int buf = get_int(fd, SOL_SOCKET, SO_SNDBUF);   /* what the queues held before must fit again */
          if (w < 0 && errno == EAGAIN && buf > 0 && buf < (64 << 20)) setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &buf, sizeof buf);
          break;
        }
        f->out2 += (size_t)w;
      }
      if (f->out1 == total1 && f->back_len != (size_t)-1 && f->out2 == f->back_len) {
        f->done = 1;
        left--;
      }
    }
  }
  for (int k = 0; k < n; k++) {
    if (!r[k].done) stasis_log("fd %d (socket:[%llu]): could not give back the bytes in flight: the connection lost some", r[k].t->fd, r[k].t->ino);
    growbuf_free(&r[k].back);
  }
}

