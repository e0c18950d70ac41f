/* UDP sockets over IPv4 and IPv6: the descriptor kind. At SAVE (every
 * process of the job stopped, so no datagram of the job moves) each
 * socket's receive queue is copied with MSG_PEEK and a peek offset, with
 * each datagram's source and destination address: nothing is taken out,
 * so a job that goes on after the checkpoint finds every datagram where it
 * was, once. A socket held by several processes is copied by one (the
 * job's holder on this host with the lowest kernel pid). Every socket that
 * is bound or connected goes into IMAGE.udp (docs/image-format.md) for the
 * restart loader (loader_udp.c), which binds each again to its old address
 * and port before it forks the tree (one line naming port and process when
 * another program took it), connects it again, and sends each queued
 * datagram again from its old source address, so that it is queued once
 * more toward its socket, in order; it hands them over as "udp:INO". A
 * socket neither bound nor connected is made here again. Options: the
 * common SOL_SOCKET ones, IPV6_V6ONLY, SO_BROADCAST, the TOS/traffic
 * class, the unicast TTL/hop limit and the packet-info flags. Multicast
 * group memberships are not kept (the kernel does not tell them). */
#include "../../core/core.h"
#include "../fd/fdutil.h"
#include "sock.h"
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>

struct udp_sock {
  unsigned long long ino;
  int fd, family, bound, connected, leader;
  struct sockaddr_storage local, peer;
  int v6only, broadcast, tos, ttl, pktinfo, pktinfo6;
  struct sock_opts opts;
  struct growbuf queue;   /* the datagrams, as written to IMAGE.udp */
  int nqueued;
};

#define MAX_UDP 1024
static struct udp_sock udps[MAX_UDP];
static int nudps;

static int get_int(int fd, int level, int name) {
  int v = -1;
  socklen_t n = sizeof v;
  return getsockopt(fd, level, name, &v, &n) < 0 ? -1 : v;
}

static void set_int(int fd, int level, int name, int v) {
  if (v >= 0 && get_int(fd, level, name) != v) setsockopt(fd, level, name, &v, sizeof v);
}

static int udp_match(const struct stasis_fd *f) {
  if (!S_ISSOCK(f->mode)) return 0;
  int d = get_int(f->fd, SOL_SOCKET, SO_DOMAIN);
  return (d == AF_INET || d == AF_INET6) && get_int(f->fd, SOL_SOCKET, SO_PROTOCOL) == IPPROTO_UDP;
}

static unsigned port_of(const struct sockaddr_storage *a) {
  if (a->ss_family == AF_INET) return ntohs(((const struct sockaddr_in *)a)->sin_port);
  if (a->ss_family == AF_INET6) return ntohs(((const struct sockaddr_in6 *)a)->sin6_port);
  return 0;
}

/* Every datagram queued toward `u`, copied in order, each as
 * "SADDR SPORT DADDR DPORT LEN\n" and its bytes. The destination address
 * comes from the packet-info flags, turned on for the copy. */
static int copy_queue(struct udp_sock *u) {
  static char data[65536];
  int zero = 0, one = 1;
  if (setsockopt(u->fd, SOL_SOCKET, SO_PEEK_OFF, &zero, sizeof zero) < 0) {
    stasis_fail("fd %d (socket:[%llu]): cannot copy the datagrams queued toward this UDP socket (SO_PEEK_OFF: %s)", u->fd, u->ino,
                strerror(errno));
    return -1;
  }
  if (u->pktinfo != 1) setsockopt(u->fd, IPPROTO_IP, IP_PKTINFO, &one, sizeof one);
  if (u->family == AF_INET6 && u->pktinfo6 != 1) setsockopt(u->fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, &one, sizeof one);
  int rc = 0;
  for (;;) {
    struct sockaddr_storage from = { 0 }, to = { 0 };
    char control[256] __attribute__((aligned(8)));
    struct iovec iov = { data, sizeof data };
    struct msghdr m = { .msg_name = &from, .msg_namelen = sizeof from, .msg_iov = &iov, .msg_iovlen = 1,
                        .msg_control = control, .msg_controllen = sizeof control };
    ssize_t n = recvmsg(u->fd, &m, MSG_PEEK | MSG_DONTWAIT);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
    if (n < 0) {   /* a pending error (ICMP unreachable): the next peek goes on */
      if (errno == ECONNREFUSED || errno == EHOSTUNREACH || errno == ENETUNREACH) continue;
      stasis_fail("fd %d (socket:[%llu]): cannot copy a queued datagram: %s", u->fd, u->ino, strerror(errno));
      rc = -1;
      break;
    }
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c)) {
      if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO) {
        struct in_pktinfo pi;
        memcpy(&pi, CMSG_DATA(c), sizeof pi);
        struct sockaddr_in *in = (void *)&to;
        in->sin_family = AF_INET;
        in->sin_addr = pi.ipi_addr;
      } else if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_PKTINFO) {
        struct in6_pktinfo pi;
        memcpy(&pi, CMSG_DATA(c), sizeof pi);
        struct sockaddr_in6 *in6 = (void *)&to;
        in6->sin6_family = AF_INET6;
        in6->sin6_addr = pi.ipi6_addr;
      }
    }
    char head[200], s[64], d[64];
    /* The port is the socket's own; "- 0" when the kernel said nothing. */
    int hl = snprintf(head, sizeof head, "%s %s %zd\n", sock_inet_text(&from, "-", s, sizeof s), sock_inet_text(&to, "-", d, sizeof d), n);
    if (growbuf_append(&u->queue, head, (size_t)hl) < 0 || growbuf_append(&u->queue, data, (size_t)n) < 0) {
      stasis_fail("no memory to copy the datagrams of fd %d", u->fd);
      rc = -1;
      break;
    }
    u->nqueued++;
  }
  setsockopt(u->fd, SOL_SOCKET, SO_PEEK_OFF, &u->opts.peek_off, sizeof u->opts.peek_off);
  if (u->pktinfo != 1) setsockopt(u->fd, IPPROTO_IP, IP_PKTINFO, &zero, sizeof zero);
  if (u->family == AF_INET6 && u->pktinfo6 != 1) setsockopt(u->fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, &zero, sizeof zero);
  return rc;
}

static int udp_save(const struct stasis_fd *f) {
  for (int i = 0; i < nudps; i++) if (udps[i].ino == f->ino) return i;
  if (nudps >= MAX_UDP) { stasis_fail("more than %d UDP sockets", MAX_UDP); return -1; }
  struct udp_sock *u = &udps[nudps];
  memset(u, 0, sizeof *u);
  u->ino = f->ino;
  u->fd = f->fd;
  u->family = get_int(f->fd, SOL_SOCKET, SO_DOMAIN);
  socklen_t n = sizeof u->local;
  getsockname(f->fd, (struct sockaddr *)&u->local, &n);
  n = sizeof u->peer;
  u->connected = getpeername(f->fd, (struct sockaddr *)&u->peer, &n) == 0;
  u->bound = port_of(&u->local) != 0;
  sock_opts_save(f->fd, &u->opts);
  u->broadcast = get_int(f->fd, SOL_SOCKET, SO_BROADCAST);
  u->pktinfo = get_int(f->fd, IPPROTO_IP, IP_PKTINFO);
  if (u->family == AF_INET) {
    u->tos = get_int(f->fd, IPPROTO_IP, IP_TOS);
    u->ttl = get_int(f->fd, IPPROTO_IP, IP_TTL);
  } else {
    u->v6only = get_int(f->fd, IPPROTO_IPV6, IPV6_V6ONLY);
    u->tos = get_int(f->fd, IPPROTO_IPV6, IPV6_TCLASS);
    u->ttl = get_int(f->fd, IPPROTO_IPV6, IPV6_UNICAST_HOPS);
    u->pktinfo6 = get_int(f->fd, IPPROTO_IPV6, IPV6_RECVPKTINFO);
  }
  u->leader = sock_leads(u->ino);
  if (u->leader && u->bound && copy_queue(u) < 0) { growbuf_free(&u->queue); return -1; }
  return nudps++;
}

/* IMAGE.udp, one record per bound or connected socket:
 *   udp FAMILY INO FD LADDR LPORT PADDR PPORT V6ONLY REUSEADDR REUSEPORT HAS_QUEUE N\n
 * then N datagrams: "SADDR SPORT DADDR DPORT LEN\n" and LEN bytes. */
static int udp_save_end(void) {
  int any = 0;
  for (int i = 0; i < nudps; i++) any |= udps[i].bound || udps[i].connected;
  if (!any) return 0;
  int side = stasis_side_open("udp");
  if (side < 0) return -1;
  for (int i = 0; i < nudps; i++) {
    struct udp_sock *u = &udps[i];
    if (!u->bound && !u->connected) continue;
    char head[400], l[64], p[64];
    int n = snprintf(head, sizeof head, "udp %d %llu %d %s %s %d %d %d %d %d\n", u->family, u->ino, u->fd,
                     sock_inet_text(&u->local, "-", l, sizeof l), u->connected ? sock_inet_text(&u->peer, "-", p, sizeof p) : "- 0",
                     u->v6only, u->opts.reuseaddr == 1, u->opts.reuseport == 1, u->leader, u->nqueued);
    if (stasis_side_write(side, head, (size_t)n) < 0 || (u->queue.len && stasis_side_write(side, u->queue.data, u->queue.len) < 0))
      return -1;
  }
  return stasis_side_close(side);
}

static int udp_restore(const struct stasis_fd *f, int cookie) {
  const struct udp_sock *u = &udps[cookie];
  int fd;
  if (u->bound || u->connected) {
    if ((fd = sock_from_loader(f, "udp", u->ino)) < 0) return -1;
  } else {
    fd = socket(u->family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd >= 0 && u->family == AF_INET6) set_int(fd, IPPROTO_IPV6, IPV6_V6ONLY, u->v6only);
  }
  if (fd < 0 || fcntl(fd, F_SETFL, f->flags) < 0) {
    stasis_fail("cannot restore fd %d (%s): %s", f->fd, f->target, strerror(errno));
    if (fd >= 0) close(fd);
    return -1;
  }
  sock_opts_restore(fd, &u->opts);
  set_int(fd, SOL_SOCKET, SO_BROADCAST, u->broadcast);
  set_int(fd, IPPROTO_IP, IP_PKTINFO, u->pktinfo);
  if (u->family == AF_INET) {
    set_int(fd, IPPROTO_IP, IP_TOS, u->tos);
    set_int(fd, IPPROTO_IP, IP_TTL, u->ttl);
  } else {
    set_int(fd, IPPROTO_IPV6, IPV6_TCLASS, u->tos);
    set_int(fd, IPPROTO_IPV6, IPV6_UNICAST_HOPS, u->ttl);
    set_int(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, u->pktinfo6);
  }
  return fd;
}

/* The checkpoint is over or the restart done: nothing was taken out. */
static void udp_resume(void) {
  for (int i = 0; i < nudps; i++) growbuf_free(&udps[i].queue);
  nudps = 0;
}

static const struct stasis_fd_kind udp_kind = {
  .name = "udp socket", .order = 0, .match = udp_match, .save = udp_save,
  .save_end = udp_save_end, .restore = udp_restore, .resume = udp_resume,
};
STASIS_REGISTER static void udp_register(void) { stasis_register_fd_kind(&udp_kind); }
