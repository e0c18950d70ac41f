/* TCP connections whose two ends are in the job: what is in flight.
 *
 * The bytes a TCP end has sent but its peer has not read sit partly in the
 * peer's receive queue and partly in the sender's own send queue, which no
 * unprivileged call can read. So at DRAIN (every process of the job
 * stopped) each end sends a marker — 32 bytes derived from the generation
 * and the connection's addresses — and reads until the peer's marker: what
 * came before it is everything in flight toward this end. At RESUME, when
 * the same processes continue, the bytes go back where they were
 * (giveback.c). At a restart the
 * loader puts the bytes into the new connection instead (loader_tcp.c).
 * A connection that is half closed (shutdown) cannot carry markers: its
 * bytes are copied with MSG_PEEK once the sender's queue is empty. A
 * socket held by several processes is drained by one: the job's holder on
 * this host with the lowest kernel pid. Finding the peer and its holders
 * goes through this host's sock_diag and /proc; a connection whose peer
 * this host does not have is reported to the coordinator at CONNS (before
 * DRAIN), which pairs such reports across hosts and names, in DRAIN's
 * argument, those whose peer is in the job on another host: they are
 * drained with markers as local pairs are. */
#include "../../core/core.h"
#include "../fd/fdutil.h"
#include "tcp.h"
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>

#define MARK 32
#define DRAIN_SECONDS 20
extern int stasis_generation;     /* core/checkpoint.c: the one being taken */
static int drained_at_restart;   /* stasis_restored when the bytes were taken */

struct tcp_sock tcps[MAX_TCP];
int ntcps;

struct tcp_sock *tcp_find(unsigned long long ino) {
  for (int i = 0; i < ntcps; i++) if (tcps[i].ino == ino) return &tcps[i];
  return NULL;
}

const char *tcp_addr(const struct sockaddr_storage *a, char *buf, size_t cap) { return sock_inet_text(a, "?", buf, cap); }

/* The marker the end at `from` sends toward `to` in this generation. */
static void marker(const struct sockaddr_storage *from, const struct sockaddr_storage *to, unsigned char out[MARK]) {
  char a[64], b[64], text[200];
  /* An IPv6 end speaking IPv4 names it ::ffff:a.b.c.d, its IPv4 peer a.b.c.d. */
  const char *fa = tcp_addr(from, a, sizeof a), *ta = tcp_addr(to, b, sizeof b);
  if (strncmp(fa, "::ffff:", 7) == 0 && strchr(fa, '.')) fa += 7;
  if (strncmp(ta, "::ffff:", 7) == 0 && strchr(ta, '.')) ta += 7;
  snprintf(text, sizeof text, "stasis drain %d %s > %s", stasis_generation, fa, ta);
  uint64_t h = 0x9E3779B97F4A7C15ull;
  for (const char *p = text; *p; p++) h = (h ^ (unsigned char)*p) * 0x100000001B3ull;
  for (int i = 0; i < MARK; i += 8) {   /* splitmix64 */
    uint64_t z = (h += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    memcpy(out + i, &z, 8);
  }
}

static int get_int(int fd, int level, int name) {
  int v = -1;
  socklen_t n = sizeof v;
  return getsockopt(fd, level, name, &v, &n) < 0 ? -1 : v;
}

/* Who holds socket `ino` among the job's processes on this host. */
struct holders { char want[48]; int in_job, lowest_pid; };
static int visit_holder(const char *pid, const char *fd, const char *target, void *ctx) {
  (void)fd;
  struct holders *h = ctx;
  if (strcmp(target, h->want) != 0 || !fdu_in_job(pid)) return 0;
  int p = atoi(pid);
  h->in_job = 1;
  if (h->lowest_pid == 0 || p < h->lowest_pid) h->lowest_pid = p;
  return 0;
}

static struct holders holders_of(unsigned long long ino) {
  struct holders h = { .in_job = 0, .lowest_pid = 0 };
  snprintf(h.want, sizeof h.want, "socket:[%llu]", ino);
  fdu_each_host_fd(visit_holder, &h);
  return h;
}

/* One TCP descriptor of this process: what it is, and who is on the other side. */
static int look_at(int fd) {
  struct stat st;
  if (fstat(fd, &st) < 0 || !S_ISSOCK(st.st_mode) || stasis_is_internal_fd(fd)) return 0;
  int domain = get_int(fd, SOL_SOCKET, SO_DOMAIN);
  if ((domain != AF_INET && domain != AF_INET6) || get_int(fd, SOL_SOCKET, SO_PROTOCOL) != IPPROTO_TCP) return 0;
  if (tcp_find(st.st_ino)) return 0;   /* a dup */
  if (ntcps >= MAX_TCP) { stasis_fail("more than %d TCP sockets", MAX_TCP); return -1; }
  struct tcp_sock *t = &tcps[ntcps++];
  memset(t, 0, sizeof *t);
  t->ino = st.st_ino;
  t->fd = fd;
  t->family = domain;
  socklen_t n = sizeof t->local;
  getsockname(fd, (struct sockaddr *)&t->local, &n);
  n = sizeof t->peer;
  int connected = getpeername(fd, (struct sockaddr *)&t->peer, &n) == 0;
  sock_opts_save(fd, &t->opts);
  t->nodelay = get_int(fd, IPPROTO_TCP, TCP_NODELAY);
  t->keepidle = get_int(fd, IPPROTO_TCP, TCP_KEEPIDLE);
  t->keepintvl = get_int(fd, IPPROTO_TCP, TCP_KEEPINTVL);
  t->keepcnt = get_int(fd, IPPROTO_TCP, TCP_KEEPCNT);
  t->user_timeout = get_int(fd, IPPROTO_TCP, TCP_USER_TIMEOUT);
  t->v6only = domain == AF_INET6 ? get_int(fd, IPPROTO_IPV6, IPV6_V6ONLY) : 0;
  if (get_int(fd, SOL_SOCKET, SO_ACCEPTCONN) == 1) {
    t->kind = TCP_LISTENER;
    struct inet_info li;
    struct sockaddr_storage any = { .ss_family = (sa_family_t)domain };
    t->backlog = sock_inet_info(&t->local, &any, &li) == 0 && li.wqueue ? (int)li.wqueue : 128;
    return 0;
  }
  if (!connected) {
    int state = -1;
    struct tcp_info ti;
    socklen_t tn = sizeof ti;
    if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &tn) == 0) state = ti.tcpi_state;
    if (state == TCP_SYN_SENT) return tcp_connecting_look(t);
    t->kind = TCP_NEW;
    return 0;
  }
  t->kind = TCP_CONNECTED;
  char a[64], b[64];
  if (sock_inet_info(&t->local, &t->peer, &t->self) < 0) {
    stasis_fail("fd %d (socket:[%llu]): cannot ask the kernel about this TCP connection %s > %s (sock_diag): %s", fd, t->ino,
                tcp_addr(&t->local, a, sizeof a), tcp_addr(&t->peer, b, sizeof b), strerror(errno));
    return -1;
  }
  /* The peer is not on this host when sock_diag finds nothing, or only a
   * listener: the kernel's lookup falls back to one listening at the
   * peer's port on any address (Open MPI's ranks each listen at 1024,
   * 1025... on every node: a rank's connection to another node's 1025
   * would find its own node's listener). */
  if (sock_inet_info(&t->peer, &t->local, &t->other) < 0 || t->other.state == TCP_LISTEN) memset(&t->other, 0, sizeof t->other);
  t->peer_in_job = t->other.ino && holders_of(t->other.ino).in_job;
  t->leader = holders_of(t->ino).lowest_pid == (int)syscall(SYS_getpid);
  return 0;
}

/* MSG_PEEK from offset 0 of everything queued toward `t`. */
static int peek_all(struct tcp_sock *t) {
  int queued = 0, zero = 0;
  if (ioctl(t->fd, FIONREAD, &queued) < 0) queued = 0;
  if (queued > 0 && growbuf_reserve(&t->in, (size_t)queued) < 0) { stasis_fail("no memory to copy fd %d", t->fd); return -1; }
  int peek_off = setsockopt(t->fd, SOL_SOCKET, SO_PEEK_OFF, &zero, sizeof zero) == 0;
  while ((int)t->in.len < queued) {
    ssize_t n = recv(t->fd, t->in.data + t->in.len, (size_t)queued - t->in.len, MSG_PEEK | MSG_DONTWAIT);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    t->in.len += (size_t)n;
    if (!peek_off) break;   /* without a peek offset, one peek from the start is all we get */
  }
  if (peek_off) setsockopt(t->fd, SOL_SOCKET, SO_PEEK_OFF, &t->opts.peek_off, sizeof t->opts.peek_off);
  if ((int)t->in.len != queued) {
    stasis_fail("fd %d (socket:[%llu]): copied %zu of the %d bytes queued toward it", t->fd, t->ino, t->in.len, queued);
    return -1;
  }
  t->taken = TAKEN_PEEKED;
  return 0;
}

/* A half-closed connection: what its queue holds, once the peer has
 * nothing left to send. */
static int peek_settled(struct tcp_sock *t) {
  for (double until = tcp_now() + 2; tcp_now() < until;) {
    struct inet_info o;
    if (sock_inet_info(&t->peer, &t->local, &o) < 0 || o.wqueue == 0) break;
    if (tcp_now() + 0.01 >= until) {
      char a[64];
      stasis_fail("fd %d (socket:[%llu]) is a half-closed TCP connection to %s whose peer still has %u bytes to send: "
                  "not supported yet", t->fd, t->ino, tcp_addr(&t->peer, a, sizeof a), o.wqueue);
      return -1;
    }
    struct timespec ms = { 0, 10000000 };
    nanosleep(&ms, NULL);
  }
  return peek_all(t);
}

/* A half-closed connection to another host cannot carry markers either,
 * and the peer's queue is not on this host: each end waits here until
 * what it sent has reached the peer (its send queue is empty), and copies
 * its own queue only at SAVE, once every end has (tcp_peek_settled). */
static int sent_all(struct tcp_sock *t) {
  t->taken = TAKEN_PEEKED;   /* no marker, whatever happens: copied at SAVE */
  for (double until = tcp_now() + 2;;) {
    struct inet_info me;
    if (sock_inet_info(&t->local, &t->peer, &me) < 0 || me.wqueue == 0) break;
    if (tcp_now() >= until) {
      char a[64];
      stasis_fail("fd %d (socket:[%llu]) is a half-closed TCP connection to %s on another host with %u bytes still to send: "
                  "not supported yet", t->fd, t->ino, tcp_addr(&t->peer, a, sizeof a), me.wqueue);
      return -1;
    }
    struct timespec ms = { 0, 10000000 };
    nanosleep(&ms, NULL);
  }
  t->settled_far = 1;
  return 0;
}

int tcp_peek_settled(void) {
  for (int i = 0; i < ntcps; i++)
    if (tcps[i].settled_far) {
      tcps[i].settled_far = 0;
      if (peek_all(&tcps[i]) < 0) return -1;
    }
  return 0;
}

/* Every connection to drain at once: markers out, bytes in, until each
 * has its peer's marker (a process may hold both ends, or ends of
 * connections whose peers wait for one another). */
static int drain_connections(void) {
  struct pollfd pfd[MAX_TCP];
  int who[MAX_TCP], n = 0;
  size_t sent[MAX_TCP];
  unsigned char mine[MAX_TCP][MARK];
  for (int i = 0; i < ntcps; i++) {
    struct tcp_sock *t = &tcps[i];
    if (t->kind != TCP_CONNECTED || !t->leader || !t->peer_in_job || t->taken) continue;
    marker(&t->local, &t->peer, mine[n]);
    sent[n] = 0;
    who[n] = i;
    t->taken = TAKEN_DRAINED;
    n++;
  }
  int left = n;
  double until = tcp_now() + DRAIN_SECONDS;
  while (left > 0) {
    for (int k = 0; k < n; k++) {
      pfd[k].fd = who[k] < 0 ? -1 : tcps[who[k]].fd;
      pfd[k].events = POLLIN | (who[k] >= 0 && sent[k] < MARK ? POLLOUT : 0);
    }
    int ms = (int)((until - tcp_now()) * 1000);
    if (ms <= 0) break;
    if (poll(pfd, (nfds_t)n, ms) < 0 && errno != EINTR) break;
    for (int k = 0; k < n; k++) {
      if (who[k] < 0) continue;
      struct tcp_sock *t = &tcps[who[k]];
      if (sent[k] < MARK) {
        ssize_t w = send(t->fd, mine[k] + sent[k], MARK - sent[k], MSG_DONTWAIT | MSG_NOSIGNAL);
        if (w > 0) sent[k] += (size_t)w;
        else if (w < 0 && errno != EAGAIN && errno != EINTR) {
          stasis_fail("fd %d (socket:[%llu]): cannot send the drain marker: %s", t->fd, t->ino, strerror(errno));
          return -1;
        }
      }
      for (;;) {
        if (growbuf_reserve(&t->in, 1 << 16) < 0) { stasis_fail("no memory to drain fd %d", t->fd); return -1; }
        ssize_t r = recv(t->fd, t->in.data + t->in.len, 1 << 16, MSG_DONTWAIT);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0 && errno == EAGAIN) break;
        if (r <= 0) {
          stasis_fail("fd %d (socket:[%llu]): the connection ended while draining it: %s", t->fd, t->ino, r < 0 ? strerror(errno) : "EOF");
          return -1;
        }
        t->in.len += (size_t)r;
      }
      unsigned char theirs[MARK];
      marker(&t->peer, &t->local, theirs);
      if (sent[k] == MARK && t->in.len >= MARK && memcmp(t->in.data + t->in.len - MARK, theirs, MARK) == 0) {
        t->in.len -= MARK;
        who[k] = -1;
        left--;
      }
    }
  }
  for (int k = 0; k < n; k++)
    if (who[k] >= 0) {
      char a[64];
      struct tcp_sock *t = &tcps[who[k]];
      stasis_fail("fd %d (socket:[%llu]): its peer %s in the job did not answer the drain within %d s", t->fd, t->ino,
                  tcp_addr(&t->peer, a, sizeof a), DRAIN_SECONDS);
      return -1;
    }
  return 0;
}

/* This process's TCP sockets, looked at once per checkpoint: at CONNS, or
 * at DRAIN when no CONNS came. A refusal does not stop the walk or the
 * drain: the peers drain too, and whatever is taken out is given back at
 * RESUME; it is reported at DRAIN. */
static int scanned, scan_rc;

static void scan(void) {
  for (int i = 0; i < ntcps; i++) growbuf_free(&tcps[i].in);
  ntcps = 0;
  scanned = 1;
  scan_rc = 0;
  drained_at_restart = stasis_restored;
  int dfd = open("/proc/self/fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0) { stasis_fail("cannot list /proc/self/fd"); scan_rc = -1; return; }
  char buf[4096];
  long n;
  fdu_host_fds_begin();
  while ((n = syscall(SYS_getdents64, dfd, buf, sizeof buf)) > 0)
    for (long off = 0; off < n;) {
      struct fdu_dirent *d = (void *)(buf + off);
      off += d->reclen;
      if (d->name[0] >= '0' && d->name[0] <= '9' && atoi(d->name) != dfd && look_at(atoi(d->name)) < 0) scan_rc = -1;
    }
  fdu_host_fds_end();
  close(dfd);
}

/* "ADDR/PORT" of an end as both hosts name it (an IPv4 peer of an IPv6 socket: a.b.c.d). */
static void end_item(const struct sockaddr_storage *a, char *out, size_t cap) {
  char text[64];
  const char *s = tcp_addr(a, text, sizeof text);
  if (strncmp(s, "::ffff:", 7) == 0 && strchr(s, '.')) s += 7;
  snprintf(out, cap, "%s", s);
  char *sp = strchr(out, ' ');
  if (sp) *sp = '/';
}

/* CONNS: every connection whose peer is not on this host,
 * "ino/laddr/lport/paddr/pport/half" (half 1: shut down either way here);
 * as many "CONNS+" lines as the list takes, then "CONNS" with the rest. */
static void on_conns(const char *args) {
  (void)args;
  static char line[12000];   /* within coord_send's line */
  size_t len = 0;
  scan();
  for (int i = 0; i < ntcps; i++) {
    struct tcp_sock *t = &tcps[i];
    if (t->kind != TCP_CONNECTED || t->other.ino) continue;
    char l[80], p[80], item[200], enc[400];
    end_item(&t->local, l, sizeof l);
    end_item(&t->peer, p, sizeof p);
    int half = t->self.shutdown != 0 || t->self.state != TCP_ESTABLISHED;
    snprintf(item, sizeof item, "%llu/%s/%s/%d", t->ino, l, p, half);
    coord_encode(enc, sizeof enc, item);
    if (len + strlen(enc) + 2 >= sizeof line) {
      line[len] = 0;
      coord_send("CONNS+%s", line);
      len = 0;
    }
    len += (size_t)snprintf(line + len, sizeof line - len, "%s%s", len ? "," : " ", enc);
  }
  line[len] = 0;
  coord_send("CONNS%s", line);
}

/* DRAIN's argument names the connections whose peer is in the job on
 * another host, "ino/half": half 1 when either end was shut down (both
 * ends must treat the connection alike, and each sees only its own). */
static void mark_far(const char *list) {
  for (const char *p = list; *p;) {
    char *end = NULL;
    unsigned long long ino = strtoull(p, &end, 10);
    struct tcp_sock *t = tcp_find(ino);
    if (t && t->kind == TCP_CONNECTED && !t->other.ino) {
      t->far = t->peer_in_job = 1;
      t->far_half = end && strncmp(end, "/1", 2) == 0;
    }
    const char *comma = strchr(p, ',');
    if (!comma) break;
    p = comma + 1;
  }
}

static int drain_all(void) {
  if (!scanned) scan();
  scanned = 0;
  int rc = scan_rc;
  mark_far(stasis_drain_far);
  for (int i = 0; i < ntcps; i++) {
    struct tcp_sock *t = &tcps[i];
    if (t->kind != TCP_CONNECTED || !t->leader) continue;
    int half = t->far ? t->far_half : (t->self.shutdown | t->other.shutdown) != 0 || t->self.state != TCP_ESTABLISHED;
    /* A peer outside the job will not be there after a restart: what has
     * reached this end is all it gets, whatever the peer still sends. */
    if (!t->peer_in_job && peek_all(t) < 0) rc = -1;
    else if (t->peer_in_job && half && t->far && sent_all(t) < 0) rc = -1;
    else if (t->peer_in_job && half && !t->far && peek_settled(t) < 0) rc = -1;
  }
  if (drain_connections() < 0) rc = -1;
  return rc;
}

static int drain_event(enum stasis_event ev) {
  if (ev == STASIS_EVENT_DRAIN) return drain_all();
  if (ev == STASIS_EVENT_RESUME) {
    if (stasis_restored == drained_at_restart) tcp_give_back();   /* a restored process got its bytes from the loader */
    for (int i = 0; i < ntcps; i++) growbuf_free(&tcps[i].in);
    ntcps = 0;
    scanned = 0;
  }
  return 0;
}

static const struct stasis_plugin drain_plugin = { "tcp drain", drain_event };
STASIS_REGISTER static void drain_register(void) {
  stasis_register_plugin(&drain_plugin);
  stasis_on_coord_line("CONNS", on_conns);
}
