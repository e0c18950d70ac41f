/* The loader's part of UDP sockets (linked into stasis-restart): before
 * the tree forks, from the tree's IMAGE.udp files (udp.c writes them),
 * every bound or connected UDP socket is bound again to its old address
 * and port — when another program holds that port the restart stops with
 * one line naming address, port, descriptor and image — and connected
 * again to its old peer. Then the datagrams that were queued toward each
 * are sent to it again, in order, from their old source address: through
 * the job's own socket at that address when there is one (so a connected
 * socket, which takes datagrams from its peer only, gets them), else from
 * a socket of a moment bound there. A datagram whose source address
 * another program now holds cannot be sent from it: it is dropped with a
 * line on stderr, as UDP may drop any datagram. All are handed to every
 * process as "udp:INO=FD". Host-bound, as TCP's part is. */
#include "../../restart/side.h"
#include "loader_inet.h"
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

struct dgram { char saddr[64], daddr[64]; unsigned sport, dport; const char *bytes; size_t len; };
struct udp_rec {
  int family, fd, v6only, reuseaddr, reuseport, has_queue, nq, sock;
  unsigned long long ino;
  char laddr[64], paddr[64];
  unsigned lport, pport;
  const char *queue;   /* the N datagram records, as in the file */
  size_t queue_len;
  const char *image;
};

#define MAX_UDP 4096
static struct udp_rec *recs;
static int nrecs;
static char *bufs[1024];
static int nbufs;

/* One datagram record at `*at` (advanced past it), or -1. */
static int next_dgram(const char *buf, size_t len, size_t *at, struct dgram *d) {
  const char *nl = memchr(buf + *at, '\n', len - *at < 300 ? len - *at : 300);
  char head[300];
  int used = -1;
  if (!nl) return -1;
  size_t hl = (size_t)(nl - buf) - *at;
  memcpy(head, buf + *at, hl);
  head[hl] = 0;
  sscanf(head, "%63s %u %63s %u %zu%n", d->saddr, &d->sport, d->daddr, &d->dport, &d->len, &used);
  if (used != (int)hl) return -1;
  *at += hl + 1;
  if (d->len > len - *at) return -1;
  d->bytes = buf + *at;
  *at += d->len;
  return 0;
}

static int read_records(const char *image) {
  char *buf, file[4200];
  size_t len;
  if (side_file_read(image, "udp", &buf, &len) < 0) return -1;
  if (!buf) return 0;
  if (nbufs >= (int)(sizeof bufs / sizeof bufs[0])) { fprintf(stderr, "stasis-restart: too many .udp files\n"); return -1; }
  bufs[nbufs++] = buf;
  snprintf(file, sizeof file, "%s.udp", image);
  for (size_t at = 0; at < len;) {
    struct udp_rec r = { .image = image, .sock = -1 };
    const char *nl = memchr(buf + at, '\n', len - at < 400 ? len - at : 400);
    char head[400];
    int used = -1, hl = nl ? (int)(nl - buf - (long)at) : 0;
    if (nl) {
      memcpy(head, buf + at, (size_t)hl);
      head[hl] = 0;
      sscanf(head, "udp %d %llu %d %63s %u %63s %u %d %d %d %d %d%n", &r.family, &r.ino, &r.fd, r.laddr, &r.lport, r.paddr, &r.pport,
             &r.v6only, &r.reuseaddr, &r.reuseport, &r.has_queue, &r.nq, &used);
    }
    if (used != hl || (r.family != AF_INET && r.family != AF_INET6)) {
      fprintf(stderr, "stasis-restart: %s: malformed record at byte %zu\n", file, at);
      return -1;
    }
    at += (size_t)hl + 1;
    r.queue = buf + at;
    for (int k = 0; k < r.nq; k++) {
      struct dgram d;
      if (next_dgram(buf, len, &at, &d) < 0) { fprintf(stderr, "stasis-restart: %s: truncated record for socket %llu\n", file, r.ino); return -1; }
    }
    r.queue_len = (size_t)(buf + at - r.queue);
    struct udp_rec *seen = NULL;
    for (int i = 0; i < nrecs && !seen; i++) if (recs[i].ino == r.ino) seen = &recs[i];
    if (seen && (seen->has_queue || !r.has_queue)) continue;   /* every holder records it; one copied the queue */
    if (!seen && nrecs >= MAX_UDP) { fprintf(stderr, "stasis-restart: more than %d UDP sockets\n", MAX_UDP); return -1; }
    *(seen ? seen : &recs[nrecs++]) = r;
  }
  return 0;
}

/* The address without an IPv4-mapped prefix, for comparing. */
static const char *plain(const char *a) {
  return strncmp(a, "::ffff:", 7) == 0 && strchr(a, '.') ? a + 7 : a;
}
static int wildcard(const char *a) { return strcmp(a, "0.0.0.0") == 0 || strcmp(a, "::") == 0 || strcmp(a, "-") == 0; }

static int make(struct udp_rec *r, char *out, size_t cap) {
  int fd = socket(r->family, SOCK_DGRAM | SOCK_CLOEXEC, 0), one = 1;
  struct sockaddr_storage ss;
  socklen_t len;
  if (fd >= 0 && r->family == AF_INET6) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &r->v6only, sizeof r->v6only);
  /* Sharing a port needs the option before bind; the program's other settings come back after. */
  if (fd >= 0 && r->reuseaddr) setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (fd >= 0 && r->reuseport) setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
  if (fd < 0 || inet_sockaddr(r->family, r->laddr, r->lport, &ss, &len) < 0 || bind(fd, (struct sockaddr *)&ss, len) < 0) {
    fprintf(stderr, "stasis-restart: %s: cannot bind a UDP socket to %s port %u again (fd %d of that process): %s\n", r->image,
            r->laddr, r->lport, r->fd, strerror(errno));
    return -1;
  }
  if (r->pport && (inet_sockaddr(r->family, r->paddr, r->pport, &ss, &len) < 0 || connect(fd, (struct sockaddr *)&ss, len) < 0)) {
    fprintf(stderr, "stasis-restart: %s: cannot connect a UDP socket to %s port %u again (fd %d of that process): %s\n", r->image,
            r->paddr, r->pport, r->fd, strerror(errno));
    return -1;
  }
  r->sock = fd;
  size_t used = strlen(out);
  if (snprintf(out + used, cap - used, "%sudp:%llu=%d", used ? " " : "", r->ino, fd) >= (int)(cap - used)) {
    fprintf(stderr, "stasis-restart: too many descriptors to hand over (sockets)\n");
    return -1;
  }
  return 0;
}

/* The job's socket bound where the datagram came from, or -1. */
static int job_socket_at(const char *addr, unsigned port) {
  for (int i = 0; i < nrecs; i++) {
    const struct udp_rec *s = &recs[i];
    if (s->sock < 0 || s->lport != port) continue;
    if (strcmp(plain(s->laddr), plain(addr)) == 0) return i;
    /* A wildcard IPv6 socket takes IPv4 too unless it is IPv6-only. */
    if (wildcard(s->laddr) && (s->family == AF_INET ? strchr(plain(addr), '.') != NULL : !s->v6only || !strchr(plain(addr), '.')))
      return i;
  }
  return -1;
}

/* One datagram toward socket `r`, from its old source. */
static int requeue(const struct udp_rec *r, const struct dgram *d) {
  const char *to = wildcard(d->daddr) ? (wildcard(r->laddr) ? (r->family == AF_INET ? "127.0.0.1" : "::1") : r->laddr) : d->daddr;
  int via = job_socket_at(d->saddr, d->sport), fd, family;
  if (via >= 0) {
    fd = recs[via].sock;
    family = recs[via].family;
  } else {
    family = strchr(plain(d->saddr), '.') ? AF_INET : AF_INET6;
    struct sockaddr_storage ss;
    socklen_t len;
    fd = socket(family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || inet_sockaddr(family, d->saddr, d->sport, &ss, &len) < 0 || bind(fd, (struct sockaddr *)&ss, len) < 0) {
      fprintf(stderr, "stasis-restart: %s: a datagram of %zu bytes queued toward UDP port %u from %s port %u is dropped: "
              "cannot send from there again: %s\n", r->image, d->len, r->lport, d->saddr, d->sport, strerror(errno));
      if (fd >= 0) close(fd);
      return 0;
    }
  }
  struct sockaddr_storage dst;
  socklen_t dlen;
  ssize_t w = -1;
  if (inet_sockaddr(family, to, r->lport, &dst, &dlen) == 0) {
    /* From a socket bound to a wildcard address, the old source address
     * is asked for explicitly (packet info), since routing may pick another. */
    char control[CMSG_SPACE(sizeof(struct in6_pktinfo))] __attribute__((aligned(8)));
    struct iovec iov = { (void *)d->bytes, d->len };
    struct msghdr m = { .msg_name = &dst, .msg_namelen = dlen, .msg_iov = &iov, .msg_iovlen = 1 };
    struct sockaddr_storage src;
    socklen_t slen;
    if (via >= 0 && wildcard(recs[via].laddr) && inet_sockaddr(family, d->saddr, 0, &src, &slen) == 0) {
      memset(control, 0, sizeof control);
      m.msg_control = control;
      struct cmsghdr *c = (struct cmsghdr *)control;
      if (family == AF_INET) {
        struct in_pktinfo pi = { .ipi_spec_dst = ((struct sockaddr_in *)&src)->sin_addr };
        c->cmsg_level = IPPROTO_IP;
        c->cmsg_type = IP_PKTINFO;
        c->cmsg_len = CMSG_LEN(sizeof pi);
        memcpy(CMSG_DATA(c), &pi, sizeof pi);
        m.msg_controllen = CMSG_SPACE(sizeof pi);
      } else {
        struct in6_pktinfo pi = { .ipi6_addr = ((struct sockaddr_in6 *)&src)->sin6_addr };
        c->cmsg_level = IPPROTO_IPV6;
        c->cmsg_type = IPV6_PKTINFO;
        c->cmsg_len = CMSG_LEN(sizeof pi);
        memcpy(CMSG_DATA(c), &pi, sizeof pi);
        m.msg_controllen = CMSG_SPACE(sizeof pi);
      }
      w = sendmsg(fd, &m, MSG_DONTWAIT);
      m.msg_control = NULL;
      m.msg_controllen = 0;
    }
    if (w < 0) w = sendmsg(fd, &m, MSG_DONTWAIT);
  }
  int err = errno;
  if (via < 0) close(fd);
  if (w != (ssize_t)d->len) {
    fprintf(stderr, "stasis-restart: %s: cannot queue a datagram of %zu bytes toward UDP %s port %u again: %s\n", r->image, d->len, to,
            r->lport, w < 0 ? strerror(err) : "cut short");
    return -1;
  }
  return 0;
}

/* Room for what was queued (the program's own size comes back after, in udp.c). */
static void make_room(const struct udp_rec *r) {
  int want = (int)(r->queue_len + (size_t)r->nq * 1024 + (256 << 10)), have = 0;
  socklen_t n = sizeof have;
  if (getsockopt(r->sock, SOL_SOCKET, SO_RCVBUF, &have, &n) == 0 && have >= want) return;
  if (setsockopt(r->sock, SOL_SOCKET, SO_RCVBUFFORCE, &want, sizeof want) < 0) setsockopt(r->sock, SOL_SOCKET, SO_RCVBUF, &want, sizeof want);
}

int udp_sockets_prepare(int count, const char *const *images, char *out, size_t cap) {
  size_t size = MAX_UDP * sizeof *recs;
  recs = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (recs == MAP_FAILED) { fprintf(stderr, "stasis-restart: no memory for sockets\n"); return -1; }
  nrecs = 0;
  int rc = 0;
  for (int i = 0; i < count && rc == 0; i++) rc = read_records(images[i]);
  for (int i = 0; i < nrecs && rc == 0; i++) rc = make(&recs[i], out, cap);
  for (int i = 0; i < nrecs && rc == 0; i++) {
    const struct udp_rec *r = &recs[i];
    if (r->nq) make_room(r);
    size_t at = 0;
    for (int k = 0; k < r->nq && rc == 0; k++) {
      struct dgram d;
      next_dgram(r->queue, r->queue_len, &at, &d);
      rc = requeue(r, &d);
    }
  }
  for (int i = 0; i < nbufs; i++) free(bufs[i]);
  nbufs = 0;
  munmap(recs, size);
  recs = NULL;
  return rc;
}
