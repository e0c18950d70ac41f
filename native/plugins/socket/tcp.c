/* TCP sockets over IPv4 and IPv6: the descriptor kind. What each socket is
 * and what was in flight toward it was found at DRAIN (drain.c); at SAVE
 * every connected and listening socket goes into IMAGE.tcp
 * (docs/image-format.md) for the restart loader (loader_tcp.c), which
 * re-makes listeners at their address and connections between their old
 * addresses before it forks the tree, and hands them over as "tcp:INO".
 * A socket not yet connected nor listening is made here again (bound
 * where it was bound); one still connecting connects again (connecting.c). Options (TCP_NODELAY, keepalive, user timeout and
 * the common SOL_SOCKET ones) are set again on the restored socket. */
#include "../../core/core.h"
#include "../fd/fdutil.h"
#include "tcp.h"
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/stat.h>

static int tcp_match(const struct stasis_fd *f) {
  if (!S_ISSOCK(f->mode)) return 0;
  int v = 0;
  socklen_t n = sizeof v;
  if (getsockopt(f->fd, SOL_SOCKET, SO_DOMAIN, &v, &n) < 0 || (v != AF_INET && v != AF_INET6)) return 0;
  n = sizeof v;
  return getsockopt(f->fd, SOL_SOCKET, SO_PROTOCOL, &v, &n) == 0 && v == IPPROTO_TCP;
}

static int tcp_save(const struct stasis_fd *f) {
  struct tcp_sock *t = tcp_find(f->ino);
  if (!t) { stasis_fail("fd %d (%s): a TCP socket the drain did not see", f->fd, f->target); return -1; }
  return (int)(t - tcps);
}

/* IMAGE.tcp, one line per connected or listening socket (and the bytes
 * in flight toward a connected one, when this process took them):
 *   tcp conn FAMILY INO PEER LADDR LPORT PADDR PPORT SHUTDOWN HAS_BYTES LEN\n + LEN bytes
 *   tcp listen FAMILY INO LADDR LPORT BACKLOG V6ONLY FD REUSEPORT\n
 * PEER: the peer's inode on this host, 0 (outside the job) or "remote" (in
 * the job, on another host). */
static int tcp_save_end(void) {
  if (tcp_peek_settled() < 0) return -1;
  int any = 0;
  for (int i = 0; i < ntcps; i++) any |= tcps[i].kind == TCP_LISTENER || tcps[i].kind == TCP_CONNECTED;
  if (!any) return 0;
  int side = stasis_side_open("tcp");
  if (side < 0) return -1;
  for (int i = 0; i < ntcps; i++) {
    struct tcp_sock *t = &tcps[i];
    char head[400], l[64], p[64];
    int n = 0;
    if (t->kind == TCP_LISTENER)
      n = snprintf(head, sizeof head, "tcp listen %d %llu %s %d %d %d %d\n", t->family, t->ino, tcp_addr(&t->local, l, sizeof l),
                   t->backlog, t->v6only, t->fd, t->opts.reuseport == 1);
    else if (t->kind == TCP_CONNECTED) {
      char peer[24];
      snprintf(peer, sizeof peer, "%u", t->peer_in_job ? t->other.ino : 0);
      n = snprintf(head, sizeof head, "tcp conn %d %llu %s %s %s %d %d %zu\n", t->family, t->ino, t->far ? "remote" : peer,
                   tcp_addr(&t->local, l, sizeof l), tcp_addr(&t->peer, p, sizeof p), t->self.shutdown, t->taken != TAKEN_NONE,
                   t->in.len);
    }
    if (n && (stasis_side_write(side, head, (size_t)n) < 0 || (t->kind == TCP_CONNECTED && t->in.len && stasis_side_write(side, t->in.data, t->in.len) < 0)))
      return -1;
  }
  return stasis_side_close(side);
}

static void set_tcp(int fd, int name, int v) {
  if (v >= 0) setsockopt(fd, IPPROTO_TCP, name, &v, sizeof v);
}

static int tcp_restore(const struct stasis_fd *f, int cookie) {
  const struct tcp_sock *t = &tcps[cookie];
  int fd;
  if (t->kind == TCP_CONNECTING) {
    fd = tcp_connecting_restore(f, t);
  } else if (t->kind == TCP_NEW) {
    fd = socket(t->family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd >= 0 && t->family == AF_INET6 && t->v6only >= 0) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &t->v6only, sizeof t->v6only);
    if (fd >= 0) sock_opts_restore(fd, &t->opts);
    int port = t->family == AF_INET ? ((const struct sockaddr_in *)&t->local)->sin_port : ((const struct sockaddr_in6 *)&t->local)->sin6_port;
    socklen_t len = t->family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6);
    int bad = fd >= 0 && port && bind(fd, (const struct sockaddr *)&t->local, len) < 0;
    if (bad && errno == EADDRNOTAVAIL) {   /* an old host's own address (restored on another): the same port on every address */
      struct sockaddr_storage any = { .ss_family = (sa_family_t)t->family };
      if (t->family == AF_INET) ((struct sockaddr_in *)&any)->sin_port = (in_port_t)port;
      else ((struct sockaddr_in6 *)&any)->sin6_port = (in_port_t)port;
      bad = bind(fd, (const struct sockaddr *)&any, len) < 0;
    }
    if (bad) {
      char a[64];
      stasis_fail("fd %d (%s): cannot bind a TCP socket to %s again: %s", f->fd, f->target, tcp_addr(&t->local, a, sizeof a), strerror(errno));
      close(fd);
      return -1;
    }
  } else {
    if ((fd = sock_from_loader(f, "tcp", t->ino)) < 0) return -1;
  }
  if (fd < 0 || fcntl(fd, F_SETFL, f->flags) < 0) {
    stasis_fail("cannot restore fd %d (%s): %s", f->fd, f->target, strerror(errno));
    if (fd >= 0) close(fd);
    return -1;
  }
  sock_opts_restore(fd, &t->opts);
  set_tcp(fd, TCP_NODELAY, t->nodelay);
  set_tcp(fd, TCP_KEEPIDLE, t->keepidle);
  set_tcp(fd, TCP_KEEPINTVL, t->keepintvl);
  set_tcp(fd, TCP_KEEPCNT, t->keepcnt);
  set_tcp(fd, TCP_USER_TIMEOUT, t->user_timeout);
  return fd;
}

/* A connection on stdin/stdout/stderr whose peer is in the job (the ssh
 * relay's remote command, a child given a socket as its stdio) is the
 * job's own, saved and made again; any other is the restarter's. With
 * TCP across hosts, a peer the coordinator paired on another host (far,
 * known since DRAIN) counts too: the ssh relay's remote command. */
static int tcp_stdio_in_job(const struct stasis_fd *f) {
  struct tcp_sock *t = tcp_find(f->ino);
  return t && t->kind == TCP_CONNECTED && (t->peer_in_job || t->far);
}

static const struct stasis_fd_kind tcp_kind = {
  .name = "tcp socket", .order = 0, .match = tcp_match, .save = tcp_save,
  .save_end = tcp_save_end, .restore = tcp_restore, .stdio_in_job = tcp_stdio_in_job,
};
STASIS_REGISTER static void tcp_register(void) { stasis_register_fd_kind(&tcp_kind); }
