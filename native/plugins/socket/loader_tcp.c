/* The loader's part of TCP sockets (linked into stasis-restart): before
 * the tree forks, from the tree's IMAGE.tcp files (tcp.c writes them),
 * every connection between two of the job's sockets is made again between
 * their old addresses (a listener of a moment at one end's address, the
 * other end bound to its own and connected to it), each end holding again
 * what was in flight toward it and shut down as it was; a connection whose
 * peer was outside the job is made to a peer that is closed at once, so
 * the program reads what was queued, then EOF, and its writes fail as
 * they would had the peer gone away (ECONNRESET, EPIPE); then every
 * listening socket listens again at its address. All are handed to every
 * process as "tcp:INO=FD". A connection whose other end is in the job but
 * restored by another loader (another host, or another root's loader
 * here: its record's peer is "remote", or an inode none of this loader's
 * images has) is made through the coordinator instead (loader_xtcp.c). */
#include "../../restart/side.h"
#include "loader_tcp.h"
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

/* Mapped only while the sockets are made (see loader_unix.c). */
#define MAX_TCP 4096
static struct tcp_rec *recs;
static int nrecs;
static char *bufs[1024];
static int nbufs;

static struct tcp_rec *find(unsigned long long ino, int listen) {
  for (int i = 0; i < nrecs; i++) if (recs[i].ino == ino && recs[i].listen == listen) return &recs[i];
  return NULL;
}

static int read_records(const char *image) {
  char *buf, file[4200];
  size_t len;
  if (side_file_read(image, "tcp", &buf, &len) < 0) return -1;
  if (!buf) return 0;
  if (nbufs >= (int)(sizeof bufs / sizeof bufs[0])) { fprintf(stderr, "stasis-restart: too many .tcp files\n"); return -1; }
  bufs[nbufs++] = buf;
  snprintf(file, sizeof file, "%s.tcp", image);
  for (size_t at = 0; at < len;) {
    struct tcp_rec r = { .image = image };
    const char *nl = memchr(buf + at, '\n', len - at < 400 ? len - at : 400);
    char head[400];
    int used = -1, hl = nl ? (int)(nl - buf - (long)at) : 0;
    if (nl) { memcpy(head, buf + at, (size_t)hl); head[hl] = 0; }
    if (nl && strncmp(head, "tcp listen ", 11) == 0) {
      r.listen = 1;
      sscanf(head, "tcp listen %d %llu %63s %u %d %d %d %d%n", &r.family, &r.ino, r.laddr, &r.lport, &r.backlog, &r.v6only, &r.fd,
             &r.reuseport, &used);
    } else if (nl) {
      char peer[24] = "";
      sscanf(head, "tcp conn %d %llu %23s %63s %u %63s %u %d %d %zu%n", &r.family, &r.ino, peer, r.laddr, &r.lport, r.paddr,
             &r.pport, &r.shutdown, &r.has_bytes, &r.len, &used);
      /* PEER: its inode on this host, 0 (outside the job) or "remote" (in the job, on another host). */
      r.far = strcmp(peer, "remote") == 0;
      char *end = NULL;
      if (!r.far) r.peer = strtoull(peer, &end, 10);
      if (!r.far && (!end || *end || !peer[0])) used = -1;
    }
    if (used != hl || (r.family != AF_INET && r.family != AF_INET6)) {
      fprintf(stderr, "stasis-restart: %s: malformed record at byte %zu\n", file, at);
      return -1;
    }
    at += (size_t)hl + 1;
    if (r.len > len - at) { fprintf(stderr, "stasis-restart: %s: truncated record for socket %llu\n", file, r.ino); return -1; }
    r.bytes = buf + at;
    at += r.len;
    struct tcp_rec *seen = find(r.ino, r.listen);
    if (seen && (seen->has_bytes || !r.has_bytes)) continue;   /* every holder records it; the one that drained has the bytes */
    if (!seen && nrecs >= MAX_TCP) { fprintf(stderr, "stasis-restart: more than %d TCP sockets\n", MAX_TCP); return -1; }
    *(seen ? seen : &recs[nrecs++]) = r;
  }
  return 0;
}

void tcp_set_buffers(int fd, size_t bytes) {
  int want = (int)(bytes + (1 << 20));
  if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &want, sizeof want) < 0) setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &want, sizeof want);
  if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &want, sizeof want) < 0) setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &want, sizeof want);
}

/* A socket of `family` bound to ADDR:port (or, when that is taken, to
 * ADDR and any port), ready to listen or connect; -1 with errno
 * EADDRNOTAVAIL when ADDR is not this host's (bound_here falls back). */
static int bound(int family, const char *addr, unsigned port, size_t room) {
  int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;
  struct sockaddr_storage ss;
  socklen_t len;
  if (fd < 0 || inet_sockaddr(family, addr, port, &ss, &len) < 0) { if (fd >= 0) close(fd); return -1; }
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  tcp_set_buffers(fd, room);
  if (bind(fd, (struct sockaddr *)&ss, len) == 0) return fd;
  inet_sockaddr(family, addr, 0, &ss, &len);
  if (bind(fd, (struct sockaddr *)&ss, len) == 0) return fd;
  int err = errno;   /* EADDRNOTAVAIL: another host's address (bound_here) */
  close(fd);
  errno = err;
  return -1;
}

/* What was in flight toward the end at `to`, sent through `from`. */
static int refill(const struct tcp_rec *r, int from) {
  for (size_t off = 0; off < r->len;) {
    ssize_t w = send(from, r->bytes + off, r->len - off, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0 && errno == EAGAIN) {
      struct pollfd p = { from, POLLOUT, 0 };
      if (poll(&p, 1, 2000) > 0) continue;
    }
    if (w <= 0) {
      fprintf(stderr, "stasis-restart: %s: cannot put the %zu bytes in flight back into TCP connection %s:%u > %s:%u "
              "(%zu went in): %s\n", r->image, r->len, r->laddr, r->lport, r->paddr, r->pport, off, w < 0 ? strerror(errno) : "?");
      return -1;
    }
    off += (size_t)w;
  }
  return 0;
}

int tcp_hand_over(const struct tcp_rec *r, int fd, char *out, size_t cap) {
  size_t used = strlen(out);
  if (snprintf(out + used, cap - used, "%stcp:%llu=%d", used ? " " : "", r->ino, fd) >= (int)(cap - used)) {
    fprintf(stderr, "stasis-restart: too many descriptors to hand over (sockets)\n");
    return -1;
  }
  return 0;
}

static const char *loopback(int family) { return family == AF_INET ? "127.0.0.1" : "::1"; }

/* Bound at an old end's address, or, where this host does not have that
 * address (restored on another host), on loopback: both ends are here now,
 * or the peer is gone and the program only reads what was left, then EOF. */
static int bound_here(int family, const char *addr, unsigned port, size_t room) {
  int fd = bound(family, addr, port, room);
  return fd < 0 && errno == EADDRNOTAVAIL ? bound(family, loopback(family), 0, room) : fd;
}

/* `a` and its peer `b` (NULL: the peer is not in the job, and is closed at once). */
static int connect_pair(struct tcp_rec *a, struct tcp_rec *b, char *out, size_t cap) {
  size_t room = a->len + (b ? b->len : 0);
  int l = b ? bound_here(b->family, b->laddr, b->lport, room) : bound(a->family, loopback(a->family), 0, room);
  int c = bound_here(a->family, a->laddr, a->lport, room);
  struct sockaddr_storage at;
  socklen_t len = sizeof at;
  char ip[INET6_ADDRSTRLEN];
  int s = -1;
  unsigned port = l >= 0 && c >= 0 && listen(l, 1) == 0 ? inet_sock_name(l, ip, sizeof ip) : 0;
  if (port) {
    int ok = inet_sockaddr(a->family, ip, port, &at, &len) == 0 && connect(c, (struct sockaddr *)&at, len) == 0;
    if (!ok && (errno == EADDRNOTAVAIL || errno == EADDRINUSE)) {   /* the old pair of ports still lingers (TIME_WAIT) */
      close(c);
      c = bound_here(a->family, a->laddr, 0, room);
      ok = c >= 0 && connect(c, (struct sockaddr *)&at, len) == 0;
    }
    if (ok) s = accept4(l, NULL, NULL, SOCK_CLOEXEC);
  }
  int err = errno;
  if (l >= 0) close(l);
  if (s < 0 && c >= 0) close(c);
  if (s < 0) {
    fprintf(stderr, "stasis-restart: %s: cannot make TCP connection %s:%u > %s:%u again: %s\n", a->image, a->laddr, a->lport,
            a->paddr, a->pport, strerror(err));
    return -1;
  }
  if (refill(a, s) < 0 || (b && refill(b, c) < 0)) return -1;
  if (a->shutdown & 2) shutdown(c, SHUT_WR);
  a->made = 1;
  if (tcp_hand_over(a, c, out, cap) < 0) return -1;
  if (!b) { close(s); return 0; }
  if (b->shutdown & 2) shutdown(s, SHUT_WR);
  b->made = 1;
  return tcp_hand_over(b, s, out, cap);
}

/* Whether every socket the kernel has on local `port` (in `table`,
 * /proc/net/tcp or tcp6) is in TIME_WAIT: a killed job's connections, not
 * a live program holding the port. */
static int only_time_wait(const char *table, unsigned port) {
  FILE *f = fopen(table, "r");
  char line[512];
  int seen = 0, other = 0;
  if (!f) return 0;
  while (fgets(line, sizeof line, f)) {
    unsigned lport, state;
    char *colon = strchr(line, ':'), *at = colon ? strchr(colon + 1, ':') : NULL;
    if (!at || sscanf(at + 1, "%x %*s %x", &lport, &state) != 2 || lport != port) continue;
    seen = 1;
    other |= state != 0x06;
  }
  fclose(f);
  return seen && !other;
}

/* bind() of a listener, waiting (up to a minute, TCP's TIME_WAIT) while
 * the port is held only by connections of the job that was killed: a
 * program that did not set SO_REUSEADDR cannot listen there before. */
static int bind_listener(int fd, const struct tcp_rec *r, const struct sockaddr_storage *ss, socklen_t len) {
  const char *table = r->family == AF_INET ? "/proc/net/tcp" : "/proc/net/tcp6";
  for (int waited = 0;; waited++) {
    if (bind(fd, (const struct sockaddr *)ss, len) == 0) return 0;
    if (errno != EADDRINUSE || waited >= 300 || !only_time_wait(table, r->lport)) return -1;
    if (waited == 5)
      fprintf(stderr, "stasis-restart: port %u is held by closed connections (TIME_WAIT) of the job that ended; waiting up to a minute\n", r->lport);
    poll(NULL, 0, 200);
  }
}

static int listen_again(struct tcp_rec *r, char *out, size_t cap) {
  int fd = socket(r->family, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;
  struct sockaddr_storage ss;
  socklen_t len;
  if (fd >= 0 && r->family == AF_INET6) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &r->v6only, sizeof r->v6only);
  /* Connections just made may hold the port: the program's own setting comes back after. */
  if (fd >= 0) setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  /* Several listeners share a port only if each had SO_REUSEPORT before bind. */
  if (fd >= 0 && r->reuseport) setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
  int bad = fd < 0 || inet_sockaddr(r->family, r->laddr, r->lport, &ss, &len) < 0;
  int bound = !bad && bind_listener(fd, r, &ss, len) == 0;
  /* An old host's own address, not this host's (restored on another): the same port on every address. */
  if (!bad && !bound && errno == EADDRNOTAVAIL)
    bound = inet_sockaddr(r->family, r->family == AF_INET ? "0.0.0.0" : "::", r->lport, &ss, &len) == 0 &&
            bind_listener(fd, r, &ss, len) == 0;
  /* Restored on another host than it ran on, where its port is taken (two
   * old hosts' programs listening at one port now share this node: Open
   * MPI's ranks listen at 1024, 1025... on every node): at a port the
   * kernel picks. What is connected to it goes on; a program connecting
   * anew to the old address and port does not find it. */
  const char *from = getenv("STASIS_RESTORED_FROM");
  if (!bad && !bound && errno == EADDRINUSE && from && *from) {
    if (inet_sockaddr(r->family, r->laddr, 0, &ss, &len) < 0 || bind(fd, (struct sockaddr *)&ss, len) < 0)
      bound = inet_sockaddr(r->family, r->family == AF_INET ? "0.0.0.0" : "::", 0, &ss, &len) == 0 && bind(fd, (struct sockaddr *)&ss, len) == 0;
    else bound = 1;
    if (bound) fprintf(stderr, "stasis-restart: %s: port %u (fd %d, listening on %s of %s) is taken on this host: listening at another\n",
                       r->image, r->lport, r->fd, r->laddr, from);
  }
  if (!bound || listen(fd, r->backlog) < 0) {
    fprintf(stderr, "stasis-restart: %s: cannot listen on %s port %u again (fd %d of that process): %s\n", r->image, r->laddr,
            r->lport, r->fd, strerror(errno));
    return -1;
  }
  r->made = 1;
  return tcp_hand_over(r, fd, out, cap);
}

int tcp_sockets_prepare(int count, const char *const *images, char *out, size_t cap) {
  size_t size = MAX_TCP * sizeof *recs;
  recs = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (recs == MAP_FAILED) { fprintf(stderr, "stasis-restart: no memory for sockets\n"); return -1; }
  nrecs = 0;
  int rc = 0, nfar = 0;
  for (int i = 0; i < count && rc == 0; i++) rc = read_records(images[i]);
  for (int i = 0; i < nrecs && rc == 0; i++) {
    struct tcp_rec *a = &recs[i], *b = a->peer ? find(a->peer, 0) : NULL;
    if (a->listen || a->made) continue;
    /* Not among this loader's images: another loader restores it. */
    if (a->peer && !b) a->far = 1;
    if (a->far) { nfar++; continue; }
    if (b && b->peer != a->ino) b = NULL;
    rc = connect_pair(a, b, out, cap);
  }
  if (rc == 0 && nfar) rc = xtcp_connect_all(recs, nrecs, out, cap);
  for (int i = 0; i < nrecs && rc == 0; i++)
    if (recs[i].listen) rc = listen_again(&recs[i], out, cap);
  for (int i = 0; i < nbufs; i++) free(bufs[i]);
  nbufs = 0;
  munmap(recs, size);
  recs = NULL;
  return rc;
}
