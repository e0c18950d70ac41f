/* The loader's part of UNIX sockets (linked into stasis-restart, not into
 * libstasis): before the tree forks, one socketpair for every pair of
 * connected sockets found in the tree's IMAGE.unix files (unix.c writes
 * them), each end holding again what it held, shut down as it was, and
 * every listening socket bound and listening at its name again, every
 * bound datagram socket bound there again with the datagrams it held
 * (sent to it from an unnamed socket); each is
 * handed to every process as "unix:INO=FD". An end whose peer has no record (it
 * was closed, or held outside the job) gets a peer that is closed here:
 * what was queued is read, then EOF. Both ends are made on this host:
 * pairs across hosts will need the coordinator as a name service. */
#include "../../restart/side.h"
#include "../../restart/image.h"   /* restart_path_map */
#include "../../core/path_map.h"
#include <errno.h>
#include <stddef.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

struct unix_end {
  int type, shutdown, made, listen, bound, backlog, fd;
  int bound_fd;              /* a bound one's new socket, once made (its clients connect to it) */
  int name_len;
  char name[108];            /* a listener's or bound one's: a path (with its NUL) or \0 and an abstract name */
  unsigned long long ino, peer;
  const char *msgs;          /* "LEN\n" + bytes, nmsg times, in the side file's buffer */
  size_t nmsg, msgs_len;
  const char *image;          /* for messages: IMAGE.unix */
};

/* Mapped only while the pairs are made: the loader's own zone (and its
 * heap behind it) must stay small, it lies below where programs start. */
#define MAX_ENDS 4096
static struct unix_end *ends;
static int nends;
static char *bufs[1024];     /* side files read, kept until the pairs are made */
static int nbufs;

static struct unix_end *find(unsigned long long ino) {
  for (int i = 0; i < nends; i++) if (ends[i].ino == ino) return &ends[i];
  return NULL;
}

/* Walks one record's messages; returns bytes used, or -1 if malformed. */
static long messages_len(const char *p, size_t avail, size_t nmsg) {
  size_t at = 0;
  for (size_t k = 0; k < nmsg; k++) {
    const char *nl = memchr(p + at, '\n', avail - at < 24 ? avail - at : 24);
    if (!nl) return -1;
    char *end;
    unsigned long long len = strtoull(p + at, &end, 10);
    if (end != nl || len > avail) return -1;
    at = (size_t)(nl - p) + 1;
    if (len > avail - at) return -1;
    at += len;
  }
  return (long)at;
}

static int read_records(const char *image) {
  char *buf, file[4200];
  size_t len;
  if (side_file_read(image, "unix", &buf, &len) < 0) return -1;
  if (!buf) return 0;
  if (nbufs >= (int)(sizeof bufs / sizeof bufs[0])) { fprintf(stderr, "stasis-restart: too many .unix files\n"); return -1; }
  bufs[nbufs++] = buf;
  snprintf(file, sizeof file, "%s.unix", image);
  for (size_t at = 0; at < len;) {
    struct unix_end e = { 0 };
    int used = -1;
    const char *nl = memchr(buf + at, '\n', len - at < 128 ? len - at : 128);
    char head[128];
    if (nl) { memcpy(head, buf + at, (size_t)(nl - buf - at)); head[nl - buf - at] = 0; }
    int ok;
    if (nl && strncmp(head, "unixlisten ", 11) == 0) {
      e.listen = 1;
      ok = sscanf(head, "unixlisten %d %llu %d %d %d%n", &e.type, &e.ino, &e.backlog, &e.fd, &e.name_len, &used) == 5;
    } else if (nl && strncmp(head, "unixbound ", 10) == 0) {
      e.bound = 1;
      ok = sscanf(head, "unixbound %d %llu %d %d %zu%n", &e.type, &e.ino, &e.fd, &e.name_len, &e.nmsg, &used) == 5;
    } else {
      ok = nl && sscanf(head, "unix %d %llu %llu %d %zu%n", &e.type, &e.ino, &e.peer, &e.shutdown, &e.nmsg, &used) == 5;
    }
    int named = e.listen || e.bound;   /* the name's bytes follow the line */
    if (!ok || used != nl - buf - (long)at ||
        (named && (e.name_len <= 0 || e.name_len > (int)sizeof e.name || (size_t)e.name_len > len - (size_t)(nl + 1 - buf)))) {
      fprintf(stderr, "stasis-restart: %s: malformed record at byte %zu\n", file, at);
      return -1;
    }
    at = (size_t)(nl + 1 - buf);
    if (named) {
      memcpy(e.name, nl + 1, (size_t)e.name_len);
      at += (size_t)e.name_len;
    }
    long n = messages_len(buf + at, len - at, e.nmsg);
    if (n < 0) { fprintf(stderr, "stasis-restart: %s: truncated record for socket %llu\n", file, e.ino); return -1; }
    e.msgs = buf + at;
    e.msgs_len = (size_t)n;
    e.image = image;
    at += (size_t)n;
    /* Every holder records it; one (unix.c) with the messages queued. */
    struct unix_end *seen = find(e.ino);
    if (seen && (seen->nmsg || !e.nmsg)) continue;
    if (!seen && nends >= MAX_ENDS) { fprintf(stderr, "stasis-restart: more than %d UNIX sockets\n", MAX_ENDS); return -1; }
    *(seen ? seen : &ends[nends++]) = e;
  }
  return 0;
}

/* Room for `len` more bytes in what `fd` sends: its send buffer grows
 * (FORCE where allowed) until the kernel accepts them. */
static int grow_sndbuf(int fd) {
  int cur = 0;
  socklen_t n = sizeof cur;
  if (getsockopt(fd, SOL_SOCKET, SO_SNDBUF, &cur, &n) < 0) return -1;
  int want = cur;   /* the kernel doubles it: this asks for twice as much */
  if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &want, sizeof want) < 0 &&
      setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &want, sizeof want) < 0) return -1;
  int now = 0;
  n = sizeof now;
  return getsockopt(fd, SOL_SOCKET, SO_SNDBUF, &now, &n) == 0 && now > cur ? 0 : -1;
}

/* What `e` held, sent through `from` (its peer), message by message. */
static int refill(const struct unix_end *e, int from) {
  const char *p = e->msgs;
  for (size_t k = 0; k < e->nmsg; k++) {
    char *nl;
    size_t len = strtoull(p, &nl, 10);
    p = nl + 1;
    for (size_t off = 0; off < len || (len == 0 && off == 0);) {
      ssize_t w = send(from, p + off, len - off, MSG_DONTWAIT | MSG_NOSIGNAL);
      if (w < 0 && errno == EINTR) continue;
      if (w < 0 && (errno == EAGAIN || errno == EMSGSIZE || errno == ENOBUFS) && grow_sndbuf(from) == 0) continue;
      if (w < 0) {
        fprintf(stderr, "stasis-restart: %s.unix: cannot put %zu bytes back into socket %llu: %s\n", e->image, len, e->ino, strerror(errno));
        return -1;
      }
      if (e->type != SOCK_STREAM && (size_t)w != len) {
        fprintf(stderr, "stasis-restart: %s.unix: a datagram of %zu bytes went back as %zd\n", e->image, len, w);
        return -1;
      }
      off += (size_t)w;
      if (len == 0) break;
    }
    p += len;
  }
  return 0;
}

static void shut(int fd, int how) {
  if (how & 2) shutdown(fd, SHUT_WR);
  if (how & 1) shutdown(fd, SHUT_RD);
}

static int hand_over(const struct unix_end *e, int fd, char *out, size_t cap) {
  size_t used = strlen(out);
  if (snprintf(out + used, cap - used, "%sunix:%llu=%d", used ? " " : "", e->ino, fd) >= (int)(cap - used)) {
    fprintf(stderr, "stasis-restart: too many descriptors to hand over (sockets)\n");
    return -1;
  }
  return 0;
}

/* One pair: `a` and its peer `b` (NULL when the peer is not in the job). */
static int make_pair(struct unix_end *a, struct unix_end *b, char *out, size_t cap) {
  int sv[2];
  if (socketpair(AF_UNIX, a->type, 0, sv) < 0) {
    fprintf(stderr, "stasis-restart: %s.unix: socketpair: %s\n", a->image, strerror(errno));
    return -1;
  }
  if (refill(a, sv[1]) < 0 || (b && refill(b, sv[0]) < 0)) return -1;
  shut(sv[0], a->shutdown);
  a->made = 1;
  if (hand_over(a, sv[0], out, cap) < 0) return -1;
  if (!b) { close(sv[1]); return 0; }
  shut(sv[1], b->shutdown);
  b->made = 1;
  return hand_over(b, sv[1], out, cap);
}

/* A socket of e's type bound at e's name again (a path is mapped by
 * --path-map). A socket file left at the path by the process that died is
 * removed first (nobody answers there); one where somebody answers is
 * another program's, and stops the restart. */
static int bind_again(const struct unix_end *e, struct sockaddr_un *a, socklen_t *alen, char *shown, size_t shown_cap) {
  size_t n = (size_t)e->name_len;
  memset(a, 0, sizeof *a);
  a->sun_family = AF_UNIX;
  if (e->name[0]) {
    char saved[sizeof e->name + 1];
    memcpy(saved, e->name, n);
    saved[n] = 0;
    path_map_apply(restart_path_map, saved, a->sun_path, sizeof a->sun_path);
    n = strlen(a->sun_path) + 1;
    snprintf(shown, shown_cap, "%s", a->sun_path);
    struct stat st;
    if (lstat(a->sun_path, &st) == 0 && S_ISSOCK(st.st_mode)) {
      int probe = socket(AF_UNIX, e->type | SOCK_CLOEXEC, 0);
      if (probe >= 0 && connect(probe, (struct sockaddr *)a, (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n)) < 0 &&
          errno == ECONNREFUSED)
        unlink(a->sun_path);
      if (probe >= 0) close(probe);
    }
  } else {
    memcpy(a->sun_path, e->name, n);
    snprintf(shown, shown_cap, "@%.*s", (int)n - 1, e->name + 1);
  }
  *alen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n);
  int fd = socket(AF_UNIX, e->type | SOCK_CLOEXEC, 0);
  if (fd >= 0 && bind(fd, (struct sockaddr *)a, *alen) == 0) return fd;
  if (fd >= 0) close(fd);
  return -1;
}

static int listen_again(struct unix_end *e, char *out, size_t cap) {
  struct sockaddr_un a;
  socklen_t alen;
  char shown[120];
  int fd = bind_again(e, &a, &alen, shown, sizeof shown);
  if (fd < 0 || listen(fd, e->backlog > 0 ? e->backlog : 128) < 0) {
    fprintf(stderr, "stasis-restart: %s: cannot listen on UNIX socket %s again (fd %d of that process): %s\n", e->image, shown,
            e->fd, strerror(errno));
    return -1;
  }
  e->made = 1;
  return hand_over(e, fd, out, cap);
}

/* A bound datagram socket at its name again, its datagrams sent back in. */
static int bound_again(struct unix_end *e, char *out, size_t cap) {
  struct sockaddr_un a;
  socklen_t alen;
  char shown[120];
  int fd = bind_again(e, &a, &alen, shown, sizeof shown), from = -1;
  if (fd < 0) {
    fprintf(stderr, "stasis-restart: %s: cannot bind UNIX datagram socket %s again (fd %d of that process): %s\n", e->image, shown,
            e->fd, strerror(errno));
    return -1;
  }
  if (e->nmsg) {
    from = socket(AF_UNIX, e->type | SOCK_CLOEXEC, 0);
    if (from < 0 || connect(from, (struct sockaddr *)&a, alen) < 0) {
      fprintf(stderr, "stasis-restart: %s: cannot send datagrams to %s again: %s\n", e->image, shown, strerror(errno));
      return -1;
    }
    if (refill(e, from) < 0) return -1;
    close(from);
  }
  e->made = 1;
  e->bound_fd = fd;
  return hand_over(e, fd, out, cap);
}

/* A datagram socket `a` that was connected to a bound socket, made again
 * as `b_fd`: a new one connected to that name. What was queued toward `a`
 * (from its server) is sent back in from an unnamed socket, `a` being
 * autobound to an abstract name to receive it. */
static int connect_to_bound(struct unix_end *a, int b_fd, char *out, size_t cap) {
  struct sockaddr_un to = { .sun_family = AF_UNIX }, me;
  socklen_t tolen = sizeof to, melen = sizeof me;
  int fd = socket(AF_UNIX, a->type | SOCK_CLOEXEC, 0);
  if (fd < 0 || getsockname(b_fd, (struct sockaddr *)&to, &tolen) < 0 || connect(fd, (struct sockaddr *)&to, tolen) < 0) {
    fprintf(stderr, "stasis-restart: %s.unix: cannot connect a datagram socket to its server again: %s\n", a->image, strerror(errno));
    return -1;
  }
  if (a->nmsg) {
    sa_family_t fam = AF_UNIX;
    int from = socket(AF_UNIX, a->type | SOCK_CLOEXEC, 0);
    if (bind(fd, (struct sockaddr *)&fam, sizeof fam) < 0 || getsockname(fd, (struct sockaddr *)&me, &melen) < 0 ||
        from < 0 || connect(from, (struct sockaddr *)&me, melen) < 0 || refill(a, from) < 0) {
      fprintf(stderr, "stasis-restart: %s.unix: cannot put the datagrams from its server back: %s\n", a->image, strerror(errno));
      return -1;
    }
    close(from);
  }
  a->made = 1;
  return hand_over(a, fd, out, cap);
}

int unix_sockets_prepare(int count, const char *const *images, char *out, size_t cap) {
  size_t size = MAX_ENDS * sizeof *ends;
  ends = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (ends == MAP_FAILED) { fprintf(stderr, "stasis-restart: no memory for sockets\n"); return -1; }
  nends = 0;
  int rc = 0;
  for (int i = 0; i < count && rc == 0; i++) rc = read_records(images[i]);
  for (int i = 0; i < nends && rc == 0; i++)
    if (ends[i].bound) rc = bound_again(&ends[i], out, cap);
  for (int i = 0; i < nends && rc == 0; i++) {
    struct unix_end *a = &ends[i], *b = a->peer ? find(a->peer) : NULL;
    if (a->made || a->listen || a->bound) continue;
    if (b && b->bound && b->made) { rc = connect_to_bound(a, b->bound_fd, out, cap); continue; }
    if (b && (b->listen || b->bound)) b = NULL;
    if (b && (b->peer != a->ino || b->type != a->type)) b = NULL;   /* a datagram socket connected one way */
    rc = make_pair(a, b, out, cap);
  }
  for (int i = 0; i < nends && rc == 0; i++)
    if (ends[i].listen) rc = listen_again(&ends[i], out, cap);
  for (int i = 0; i < nbufs; i++) free(bufs[i]);
  nbufs = 0;
  munmap(ends, size);
  ends = NULL;
  return rc;
}
