/* TCP sockets (IPv4 and IPv6): what tcp.c (the fd kind) and drain.c (the
 * DRAIN and RESUME steps) share. */
#ifndef STASIS_TCP_H
#define STASIS_TCP_H
#include "sock.h"
#include <time.h>

enum tcp_kind { TCP_NEW, TCP_LISTENER, TCP_CONNECTED, TCP_CONNECTING };
/* How the bytes in flight toward an end were taken: not at all (a holder
 * that is not the leader), read up to the peer's marker (to be given back
 * at RESUME through the peer), or copied with MSG_PEEK (nothing to give back). */
enum tcp_taken { TAKEN_NONE, TAKEN_DRAINED, TAKEN_PEEKED };

struct tcp_sock {
  unsigned long long ino;
  int fd, family, kind;
  struct sockaddr_storage local, peer;
  struct inet_info self, other;    /* sock_diag of this end and of its peer (other.ino 0: not here) */
  int peer_in_job, leader;
  int far;                         /* the peer is in the job on another host (the coordinator paired them: CONNS) */
  int far_half;                    /* far, and one end or the other was shut down (DRAIN says) */
  int settled_far;                 /* far and half-closed: its queue is copied at SAVE */
  int taken;                       /* enum tcp_taken */
  struct growbuf in;               /* bytes toward this end */
  int backlog, v6only;
  int nodelay, keepidle, keepintvl, keepcnt, user_timeout;
  struct sock_opts opts;
};

#define MAX_TCP 1024
extern struct tcp_sock tcps[MAX_TCP];
extern int ntcps;
/* RESUME after DRAIN in the same process: the bytes go back (giveback.c). */
void tcp_give_back(void);
static inline double tcp_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}
/* SAVE: copies the queues of half-closed connections to other hosts, now
 * that every end has sent all it had (drain.c); 0, or -1. */
int tcp_peek_settled(void);
/* The entry for a socket inode, or NULL. */
struct tcp_sock *tcp_find(unsigned long long ino);
/* A socket in SYN_SENT (connecting.c): kept as where it connects to (0,
 * or -1 after stasis_fail), and at a restart connecting there again. */
struct stasis_fd;
int tcp_connecting_look(struct tcp_sock *t);
int tcp_connecting_restore(const struct stasis_fd *f, const struct tcp_sock *t);
/* "ADDR PORT" of a socket address (for messages and the side file). */
const char *tcp_addr(const struct sockaddr_storage *a, char *buf, size_t cap);
#endif
