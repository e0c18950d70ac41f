/* UNIX domain sockets: socketpairs and other connected sockets (stream,
 * datagram, seqpacket), wherever their ends are in the job (a parent and
 * its forked child, two threads, one process), listening sockets at a path
 * or an abstract name, and unconnected unnamed ones.
 *
 * A UNIX socket keeps what is in flight in the receiving end's queue only
 * (the sender's buffer is an accounting limit, not a queue), so at SAVE,
 * while every process of the job is stopped, one holder of each end (the
 * lowest pid, as for TCP and UDP: the socket's one SO_PEEK_OFF cannot
 * serve several at once) copies its queue with MSG_PEEK at an advancing
 * SO_PEEK_OFF — one datagram at a time for datagram and seqpacket
 * sockets, boundaries kept — without taking anything out: the checkpoint
 * puts nothing back on resume. Every holder writes the record, the others
 * with no messages; the loader keeps the one with messages. It writes,
 * beside its image, IMAGE.unix (docs/image-format.md): one record per
 * connected socket with its peer's inode, its shutdown state and those
 * bytes. The restart loader (loader_unix.c, before it forks the tree) makes one
 * socketpair per pair of records, writes each end's bytes through the
 * other, shuts down what was shut, and hands both ends to every process as
 * "unix:INO"; a socket whose peer is not in the job (closed, or held by an
 * outsider) gets a peer that is closed at once: it reads what was queued,
 * then EOF, and writing fails with EPIPE. A socket has one open file
 * description wherever it is held, so its flags (O_NONBLOCK) are shared as
 * before. A listening socket listens again at its name (loader_unix.c); a
 * connection it had accepted is re-made as a socketpair, so neither end
 * shows a name any more (getsockname, getpeername). Descriptors in flight
 * (SCM_RIGHTS) refuse the checkpoint. A datagram socket bound to a name
 * and not connected (a datagram server; UCX's shared-memory transports
 * signal through one) is bound at its name again by the loader, with the
 * datagrams it held; they come back without their senders' addresses
 * (recvfrom() reports an unnamed sender). A stream or seqpacket socket
 * bound but neither listening nor connected refuses the checkpoint. */
#include "../../core/core.h"
#include "../fd/fdutil.h"
#include "sock.h"
#include <netinet/tcp.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>

#define MAX_UNIX 1024
struct unix_rec {
  unsigned long long ino;
  int fd;                     /* first descriptor seen, for messages */
  int connected, listening, bound;   /* bound: a named datagram socket, not connected */
  struct unix_info info;
  struct sock_opts opts;
  struct growbuf bytes;       /* its receive queue, messages one after another */
  struct growbuf lens;        /* size_t per message */
};
static struct unix_rec recs[MAX_UNIX];
static int nrecs;

static int unix_match(const struct stasis_fd *f) {
  if (!S_ISSOCK(f->mode)) return 0;
  int domain = 0;
  socklen_t n = sizeof domain;
  return getsockopt(f->fd, SOL_SOCKET, SO_DOMAIN, &domain, &n) == 0 && domain == AF_UNIX;
}

static const char *type_name(int type) {
  return type == SOCK_STREAM ? "stream" : type == SOCK_DGRAM ? "datagram" : type == SOCK_SEQPACKET ? "seqpacket" : "unknown";
}

/* Descriptors in flight came with the peek: close them and refuse. */
static int refuse_rights(const struct stasis_fd *f, struct msghdr *m) {
  int any = 0;
  for (struct cmsghdr *c = CMSG_FIRSTHDR(m); c; c = CMSG_NXTHDR(m, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
    int *fds = (int *)CMSG_DATA(c);
    for (size_t i = 0; i < (c->cmsg_len - CMSG_LEN(0)) / sizeof(int); i++) close(fds[i]);
    any = 1;
  }
  if (any || (m->msg_flags & MSG_CTRUNC))
    stasis_fail("fd %d (%s) is a UNIX socket with descriptors in flight (SCM_RIGHTS) not yet received: not supported", f->fd, f->target);
  return any || (m->msg_flags & MSG_CTRUNC) ? -1 : 0;
}

/* The end's receive queue, peeked from offset 0 on; a datagram larger than
 * a chunk comes in several peeks (MSG_TRUNC tells what is left of it). */
static int copy_queue(const struct stasis_fd *f, struct unix_rec *r) {
  int zero = 0, stream = r->info.type == SOCK_STREAM, rc = 0;
  if (setsockopt(f->fd, SOL_SOCKET, SO_PEEK_OFF, &zero, sizeof zero) < 0) {
    stasis_fail("fd %d (%s): cannot peek at its queue: %s", f->fd, f->target, strerror(errno));
    return -1;
  }
  size_t left = 0, msg = 0;   /* of the datagram being copied */
  for (;;) {
    const size_t chunk = 1 << 16;
    char control[CMSG_SPACE(sizeof(int) * 253) + CMSG_SPACE(sizeof(struct ucred))];
    if (growbuf_reserve(&r->bytes, chunk) < 0) { stasis_fail("no memory to copy fd %d", f->fd); rc = -1; break; }
    struct iovec iov = { r->bytes.data + r->bytes.len, chunk };
    struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control, .msg_controllen = sizeof control };
    ssize_t got = recvmsg(f->fd, &m, MSG_PEEK | MSG_DONTWAIT | MSG_CMSG_CLOEXEC | (stream ? 0 : MSG_TRUNC));
    if (got < 0 && errno == EINTR) continue;
    if (got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
    if (got < 0) { stasis_fail("fd %d (%s): cannot peek at its queue: %s", f->fd, f->target, strerror(errno)); rc = -1; break; }
    if (refuse_rights(f, &m) < 0) { rc = -1; break; }
    if (stream) {
      if (got == 0) break;   /* the peer shut down and the queue is empty */
      r->bytes.len += (size_t)got;
      continue;
    }
    if (left == 0) msg = (size_t)got;   /* a new datagram: got is its whole length */
    size_t copied = (size_t)got < chunk ? (size_t)got : chunk;
    r->bytes.len += copied;
    left = (size_t)got - copied;
    if (left == 0 && growbuf_append(&r->lens, &msg, sizeof msg) < 0) { stasis_fail("no memory to copy fd %d", f->fd); rc = -1; break; }
  }
  if (rc == 0 && stream && r->bytes.len && growbuf_append(&r->lens, &r->bytes.len, sizeof r->bytes.len) < 0) {
    stasis_fail("no memory to copy fd %d", f->fd);
    rc = -1;
  }
  setsockopt(f->fd, SOL_SOCKET, SO_PEEK_OFF, &r->opts.peek_off, sizeof r->opts.peek_off);
  int queued = 0;
  if (rc == 0 && stream && ioctl(f->fd, FIONREAD, &queued) == 0 && (size_t)queued != r->bytes.len) {
    stasis_fail("fd %d (%s): copied %zu of the %d bytes it holds", f->fd, f->target, r->bytes.len, queued);
    rc = -1;
  }
  return rc;
}

static int unix_save(const struct stasis_fd *f) {
  if (nrecs >= MAX_UNIX) { stasis_fail("more than %d UNIX sockets", MAX_UNIX); return -1; }
  struct unix_rec *r = &recs[nrecs];
  memset(r, 0, sizeof *r);
  r->ino = f->ino;
  r->fd = f->fd;
  if (sock_unix_info(f->ino, &r->info) < 0) {
    stasis_fail("fd %d (%s): cannot ask the kernel about this UNIX socket (sock_diag): %s", f->fd, f->target, strerror(errno));
    return -1;
  }
  if (r->info.type != SOCK_STREAM && r->info.type != SOCK_DGRAM && r->info.type != SOCK_SEQPACKET) {
    stasis_fail("fd %d (%s) is a UNIX socket of type %d: not supported", f->fd, f->target, r->info.type);
    return -1;
  }
  /* A datagram socket another one connected to shows ESTABLISHED too
   * (Linux 6.x), with no peer of its own: it is not connected. */
  r->connected = r->info.state == TCP_ESTABLISHED && (r->info.type != SOCK_DGRAM || r->info.peer);
  r->listening = r->info.state == TCP_LISTEN;
  r->bound = r->info.name_len > 0 && !r->connected && !r->listening && r->info.type == SOCK_DGRAM;
  if (r->info.name_len > 0 && !r->connected && !r->listening && !r->bound) {
    int abstract = r->info.name[0] == 0;
    stasis_fail("fd %d (%s) is a UNIX %s socket bound to %s%.*s, neither listening nor connected: not supported yet", f->fd,
                f->target, type_name(r->info.type), abstract ? "@" : "", r->info.name_len - abstract, r->info.name + abstract);
    return -1;
  }
  sock_opts_save(f->fd, &r->opts);
  if ((r->connected || r->bound) && sock_leads(r->ino) && copy_queue(f, r) < 0) return -1;
  return nrecs++;
}

/* Per message "LEN\n" and its bytes. */
static int write_messages(int side, struct unix_rec *r) {
  size_t nmsg = r->lens.len / sizeof(size_t), at = 0;
  for (size_t k = 0; k < nmsg; k++) {
    char head[32];
    size_t len = ((size_t *)r->lens.data)[k];
    int n = snprintf(head, sizeof head, "%zu\n", len);
    if (stasis_side_write(side, head, (size_t)n) < 0 || (len && stasis_side_write(side, r->bytes.data + at, len) < 0)) return -1;
    at += len;
  }
  /* The loader has them now; the image need not. */
  growbuf_free(&r->bytes);
  growbuf_free(&r->lens);
  return 0;
}

/* IMAGE.unix: "unix TYPE INO PEER SHUTDOWN NMSG\n", then per message
 * "LEN\n" and its bytes, for every connected socket; for every listening
 * one "unixlisten TYPE INO BACKLOG FD NAMELEN\n" and its name's bytes; for
 * every bound datagram one "unixbound TYPE INO FD NAMELEN NMSG\n", its
 * name's bytes, then its messages. */
static int unix_save_end(void) {
  int any = 0;
  for (int i = 0; i < nrecs; i++) any |= recs[i].connected | recs[i].listening | recs[i].bound;
  if (!any) return 0;
  int side = stasis_side_open("unix");
  if (side < 0) return -1;
  for (int i = 0; i < nrecs; i++) {
    struct unix_rec *r = &recs[i];
    if (r->listening) {
      char head[128];
      int n = snprintf(head, sizeof head, "unixlisten %d %llu %d %d %d\n", r->info.type, r->ino, r->info.backlog, r->fd, r->info.name_len);
      if (stasis_side_write(side, head, (size_t)n) < 0 || stasis_side_write(side, r->info.name, (size_t)r->info.name_len) < 0) return -1;
      continue;
    }
    size_t nmsg = r->lens.len / sizeof(size_t);
    char head[128];
    if (r->bound) {
      int n = snprintf(head, sizeof head, "unixbound %d %llu %d %d %zu\n", r->info.type, r->ino, r->fd, r->info.name_len, nmsg);
      if (stasis_side_write(side, head, (size_t)n) < 0 || stasis_side_write(side, r->info.name, (size_t)r->info.name_len) < 0 ||
          write_messages(side, r) < 0) return -1;
      continue;
    }
    if (!r->connected) continue;
    int n = snprintf(head, sizeof head, "unix %d %llu %u %d %zu\n", r->info.type, r->ino, r->info.peer, r->info.shutdown, nmsg);
    if (stasis_side_write(side, head, (size_t)n) < 0 || write_messages(side, r) < 0) return -1;
  }
  return stasis_side_close(side);
}

static int unix_restore(const struct stasis_fd *f, int cookie) {
  const struct unix_rec *r = &recs[cookie];
  int fd;
  if (r->connected || r->listening || r->bound) {
    if ((fd = sock_from_loader(f, "unix", r->ino)) < 0) return -1;
  } else {
    fd = socket(AF_UNIX, r->info.type | SOCK_CLOEXEC, 0);
  }
  if (fd < 0 || fcntl(fd, F_SETFL, f->flags) < 0) {
    stasis_fail("cannot restore fd %d (%s): %s", f->fd, f->target, strerror(errno));
    if (fd >= 0) close(fd);
    return -1;
  }
  sock_opts_restore(fd, &r->opts);
  return fd;
}

static void unix_resume(void) {
  for (int i = 0; i < nrecs; i++) { growbuf_free(&recs[i].bytes); growbuf_free(&recs[i].lens); }
  nrecs = 0;
}

/* Who holds socket `ino` in the job (on this host). */
struct held { char want[48]; int in_job; };
static int visit_holder(const char *pid, const char *fd, const char *target, void *ctx) {
  (void)fd;
  struct held *h = ctx;
  if (strcmp(target, h->want) == 0 && fdu_in_job(pid)) h->in_job = 1;
  return h->in_job;
}

/* A UNIX socket on stdin/stdout/stderr whose peer a process of the job
 * holds (a child run with a socketpair as its stdio) is the job's own;
 * any other is the restarter's. */
static int unix_stdio_in_job(const struct stasis_fd *f) {
  struct unix_info info;
  if (!unix_match(f) || sock_unix_info(f->ino, &info) < 0 || !info.peer) return 0;
  struct held h = { .in_job = 0 };
  snprintf(h.want, sizeof h.want, "socket:[%u]", info.peer);
  fdu_each_host_fd(visit_holder, &h);
  return h.in_job;
}

static const struct stasis_fd_kind unix_kind = {
  .name = "unix socket", .order = 0, .match = unix_match, .save = unix_save,
  .save_end = unix_save_end, .restore = unix_restore, .resume = unix_resume,
  .stdio_in_job = unix_stdio_in_job,
};
STASIS_REGISTER static void unix_register(void) { stasis_register_fd_kind(&unix_kind); }
