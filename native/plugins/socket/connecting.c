/* TCP sockets still connecting (SYN_SENT: a non-blocking connect() not
 * finished, or one a thread waits in): nothing is in flight yet, so such
 * a socket is kept as the address it connects to, and at a restart it is
 * a new socket connecting again to that address (bound first to its old
 * local address when that is free). To a listener of the job, restored by
 * the loader before any process runs, the connection then completes; to
 * a peer outside the job, whatever that peer does now decides (accept,
 * refuse, or nothing: the program's poll(), SO_ERROR or blocked connect()
 * tells it, as it would have). getpeername() does not name the peer of a
 * connecting socket: sock_diag does. */
#include "../../core/core.h"
#include "tcp.h"
#include <errno.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* The address socket `ino` (of `family`, in SYN_SENT) connects to: 0, or -1. */
static int connecting_to(unsigned long long ino, int family, struct sockaddr_storage *to) {
  int nl = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
  if (nl < 0) return -1;
  struct { struct nlmsghdr h; struct inet_diag_req_v2 r; } req = {
    .h = { .nlmsg_len = sizeof req, .nlmsg_type = SOCK_DIAG_BY_FAMILY, .nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP },
    .r = { .sdiag_family = (unsigned char)family, .sdiag_protocol = IPPROTO_TCP, .idiag_states = 1u << TCP_SYN_SENT },
  };
  struct sockaddr_nl kernel = { .nl_family = AF_NETLINK };
  int found = -1;
  if (sendto(nl, &req, sizeof req, 0, (struct sockaddr *)&kernel, sizeof kernel) == (ssize_t)sizeof req) {
    static char buf[32768] __attribute__((aligned(8)));
    for (int done = 0; !done;) {
      ssize_t n = recv(nl, buf, sizeof buf, 0);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      for (const struct nlmsghdr *h = (const void *)buf; NLMSG_OK(h, (size_t)n); h = NLMSG_NEXT(h, n)) {
        if (h->nlmsg_type == NLMSG_DONE || h->nlmsg_type == NLMSG_ERROR) { done = 1; break; }
        const struct inet_diag_msg *m = NLMSG_DATA(h);
        if (found == 0 || m->idiag_inode != ino) continue;
        memset(to, 0, sizeof *to);
        if (family == AF_INET) {
          struct sockaddr_in *in = (void *)to;
          in->sin_family = AF_INET;
          in->sin_port = m->id.idiag_dport;
          memcpy(&in->sin_addr, m->id.idiag_dst, 4);
        } else {
          struct sockaddr_in6 *in6 = (void *)to;
          in6->sin6_family = AF_INET6;
          in6->sin6_port = m->id.idiag_dport;
          memcpy(&in6->sin6_addr, m->id.idiag_dst, 16);
        }
        found = 0;
      }
    }
  }
  close(nl);
  return found;
}

int tcp_connecting_look(struct tcp_sock *t) {
  if (connecting_to(t->ino, t->family, &t->peer) < 0) {
    stasis_fail("fd %d (socket:[%llu]) is a TCP socket still connecting, and the kernel does not say where to (sock_diag)", t->fd, t->ino);
    return -1;
  }
  t->kind = TCP_CONNECTING;
  return 0;
}

int tcp_connecting_restore(const struct stasis_fd *f, const struct tcp_sock *t) {
  int fd = socket(t->family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return -1;
  if (t->family == AF_INET6 && t->v6only >= 0) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &t->v6only, sizeof t->v6only);
  sock_opts_restore(fd, &t->opts);
  socklen_t len = t->family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6);
  /* Its old port when free (a program may have bound it); the kernel picks one otherwise. */
  if (bind(fd, (const struct sockaddr *)&t->local, len) < 0) {
    struct sockaddr_storage any = t->local;
    if (any.ss_family == AF_INET) ((struct sockaddr_in *)&any)->sin_port = 0;
    else ((struct sockaddr_in6 *)&any)->sin6_port = 0;
    bind(fd, (const struct sockaddr *)&any, len);
  }
  if (connect(fd, (const struct sockaddr *)&t->peer, len) < 0 && errno != EINPROGRESS) {
    char a[64];
    /* Refused at once, or no route now: the program finds out as it would have, from the socket. */
    stasis_log("fd %d (%s): connecting again to %s: %s", f->fd, f->target, tcp_addr(&t->peer, a, sizeof a), strerror(errno));
  }
  return fd;
}
