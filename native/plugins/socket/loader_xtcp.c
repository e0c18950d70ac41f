/* The loader's part of TCP connections whose other end another loader
 * restores (another host, or another root's loader on this host): the
 * coordinator is their name service (docs/protocol.md, PUBLISH/LOOKUP).
 * key = the old 4-tuple, smaller end first. The end whose old endpoint
 * sorts first listens (at its old address if this host still has it, else
 * at this host's address toward the coordinator; its old port if free)
 * and publishes where; the other looks that up, connects (from its old
 * port if free) and sends "KEY\n", which the listener checks (a stray
 * connection is closed, and the listener waits on). Publish all, then
 * connect all, then accept all: two loaders never wait for each other,
 * and a connect() that gets no answer is given up after CONNECT_SECONDS
 * and tried again from another port, well before the listener gives up.
 * Then the two ends swap what was in flight toward each and send it
 * again (exchange.h), so each queue holds what it held before the program
 * runs, and each end is shut down as it was. STASIS_DEBUG: a line per
 * publish, connect and accept, in seconds since the loader asked. */
#include "exchange.h"
#include "loader_tcp.h"
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define WAIT_SECONDS 120   /* for the other loader: it may start later, on another host, with big images */
#define CONNECT_SECONDS 20 /* for one connect(): the listener is up when LOOKUP answers */

char xtcp_host_addr[64];
static int ns = -1;        /* our command connection to the coordinator */
static char nsbuf[1024];
static size_t nslen;
static double t_open;      /* when ns_open began: STASIS_DEBUG lines say seconds since */

/* A line on stderr when STASIS_DEBUG is set: how the connections were made. */
static void trace(const struct tcp_rec *r, const char *key, const char *what, const char *ip, unsigned port) {
  if (getenv("STASIS_DEBUG"))
    fprintf(stderr, "stasis-restart: %s: +%.2fs %s %s %s:%u\n", r->image, exchange_now() - t_open, key, what, ip, port);
}

/* One line from the coordinator within `seconds`; 0, or -1. */
static int ns_line(char *out, size_t cap, int seconds) {
  for (double until = exchange_now() + seconds;;) {
    char *nl = memchr(nsbuf, '\n', nslen);
    if (nl) {
      size_t len = (size_t)(nl - nsbuf);
      snprintf(out, cap, "%.*s", (int)len, nsbuf);
      memmove(nsbuf, nl + 1, nslen - len - 1);
      nslen -= len + 1;
      return 0;
    }
    struct pollfd p = { ns, POLLIN, 0 };
    int ms = (int)((until - exchange_now()) * 1000);
    if (nslen == sizeof nsbuf || ms <= 0 || poll(&p, 1, ms) <= 0) return -1;
    ssize_t r = recv(ns, nsbuf + nslen, sizeof nsbuf - nslen, 0);
    if (r <= 0) return -1;
    nslen += (size_t)r;
  }
}

static int ns_ask(const char *request, char *reply, size_t cap, int seconds) {
  size_t n = strlen(request);
  if (send(ns, request, n, MSG_NOSIGNAL) != (ssize_t)n) return -1;
  return ns_line(reply, cap, seconds);
}

/* The job's token: STASIS_TOKEN, else the store's token file. */
static int read_token(char *out, size_t cap) {
  const char *t = getenv("STASIS_TOKEN"), *dir = getenv("STASIS_CKPT_DIR");
  if (t && *t) { snprintf(out, cap, "%s", t); return 0; }
  if (!dir) return -1;
  char path[4200];
  snprintf(path, sizeof path, "%s/token", dir);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  ssize_t n = fd < 0 ? -1 : read(fd, out, cap - 1);
  if (fd >= 0) close(fd);
  if (n <= 0) return -1;
  out[n] = 0;
  out[strcspn(out, "\r\n")] = 0;
  return 0;
}

/* Joins the coordinator (STASIS_COORD, numeric HOST:PORT or [V6]:PORT) as a command client. */
static int ns_open(void) {
  t_open = exchange_now();
  const char *coord = getenv("STASIS_COORD");
  char host[128], token[512], line[256];
  if (!coord || snprintf(host, sizeof host, "%s", coord) >= (int)sizeof host || !strrchr(host, ':')) {
    fprintf(stderr, "stasis-restart: no coordinator address (STASIS_COORD) to find the other ends of TCP connections\n");
    return -1;
  }
  char *colon = strrchr(host, ':'), *h = host;
  *colon = 0;
  if (h[0] == '[') { h++; h[strcspn(h, "]")] = 0; }
  struct sockaddr_storage ss;
  socklen_t len;
  int family = strchr(h, ':') ? AF_INET6 : AF_INET;
  if (read_token(token, sizeof token) < 0) { fprintf(stderr, "stasis-restart: no job token (STASIS_TOKEN or STASIS_CKPT_DIR/token)\n"); return -1; }
  int ok = inet_sockaddr(family, h, (unsigned)atoi(colon + 1), &ss, &len) == 0;
  for (int tries = 0; ok; tries++) {   /* a coordinator started with the loaders may not listen yet */
    if ((ns = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0)) >= 0 && connect(ns, (struct sockaddr *)&ss, len) == 0) break;
    ok = errno == ECONNREFUSED && tries < 200;
    if (ns >= 0) close(ns);
    ns = -1;
    struct timespec ms50 = { 0, 50000000 };
    if (ok) nanosleep(&ms50, NULL);
  }
  if (!ok) {
    fprintf(stderr, "stasis-restart: cannot reach coordinator %s for the job's TCP connections: %s\n", coord, strerror(errno));
    return -1;
  }
  inet_sock_name(ns, xtcp_host_addr, sizeof xtcp_host_addr);
  char hello[600];
  snprintf(hello, sizeof hello, "HELLO 1 %s cmd\n", token);
  if (ns_ask(hello, line, sizeof line, 30) < 0 || strncmp(line, "WELCOME ", 8) != 0) {
    fprintf(stderr, "stasis-restart: coordinator %s refused the loader: %s\n", coord, line[0] ? line : "no answer");
    return -1;
  }
  return 0;
}

/* "ADDR:PORT" of an endpoint as both ends name it (an IPv4 address seen
 * by an IPv6 socket, ::ffff:a.b.c.d, is a.b.c.d); IPv6 as [ADDR]:PORT. */
static void endpoint(const char *addr, unsigned port, char *out, size_t cap) {
  if (strncmp(addr, "::ffff:", 7) == 0 && strchr(addr, '.')) addr += 7;
  snprintf(out, cap, strchr(addr, ':') ? "[%s]:%u" : "%s:%u", addr, port);
}

/* The key (brackets percent-encoded: the protocol's safe set); 1 when this end listens. */
static int key_of(const struct tcp_rec *r, char *key, size_t cap) {
  char mine[96], theirs[96], raw[200];
  endpoint(r->laddr, r->lport, mine, sizeof mine);
  endpoint(r->paddr, r->pport, theirs, sizeof theirs);
  int first = strcmp(mine, theirs) < 0;
  snprintf(raw, sizeof raw, "%s-%s", first ? mine : theirs, first ? theirs : mine);
  size_t n = 0;
  for (const char *p = raw; *p && n + 4 < cap; p++)
    n += (size_t)(*p == '[' || *p == ']' ? snprintf(key + n, cap - n, "%%%02X", (unsigned char)*p) : snprintf(key + n, cap - n, "%c", *p));
  return first;
}

static int any_host(int family, char *out) {
  snprintf(out, 64, "%s", family == AF_INET ? "0.0.0.0" : "::");
  return 0;
}

/* A socket of the record's family bound to the first of `where` that
 * works ("" port 0 ...); -1 if none. */
static int bind_first(const struct tcp_rec *r, const char *const addrs[], const unsigned ports[], int n) {
  for (int i = 0; i < n; i++) {
    if (!addrs[i][0]) continue;
    int fd = socket(r->family, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;
    struct sockaddr_storage ss;
    socklen_t len;
    if (fd < 0) return -1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    tcp_set_buffers(fd, r->len);
    if (inet_sockaddr(r->family, addrs[i], ports[i], &ss, &len) == 0 && bind(fd, (struct sockaddr *)&ss, len) == 0) return fd;
    close(fd);
  }
  return -1;
}

static int publish(struct tcp_rec *r, const char *key) {
  const char *addrs[3] = { r->laddr, xtcp_host_addr, xtcp_host_addr };
  const unsigned ports[3] = { r->lport, r->lport, 0 };
  char ip[INET6_ADDRSTRLEN] = "", req[400], reply[300];
  r->listener = bind_first(r, addrs, ports, 3);
  unsigned port = r->listener >= 0 && listen(r->listener, 1) == 0 ? inet_sock_name(r->listener, ip, sizeof ip) : 0;
  if (!port) {
    fprintf(stderr, "stasis-restart: %s: cannot listen for TCP connection %s:%u > %s:%u: %s\n", r->image, r->laddr, r->lport,
            r->paddr, r->pport, strerror(errno));
    return -1;
  }
  snprintf(req, sizeof req, "PUBLISH %s %s %u\n", key, ip, port);
  if (ns_ask(req, reply, sizeof reply, 30) < 0 || strcmp(reply, "OK") != 0) {
    fprintf(stderr, "stasis-restart: %s: the coordinator did not take %s: %s\n", r->image, req, reply);
    return -1;
  }
  trace(r, key, "published", ip, port);
  return 0;
}

static int send_all(int fd, const char *p, size_t n) {
  for (size_t off = 0; off < n;) {
    ssize_t w = send(fd, p + off, n - off, MSG_NOSIGNAL);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return -1;
    off += (size_t)w;
  }
  return 0;
}

/* connect() within CONNECT_SECONDS; 0, or -1 with errno. A socket that
 * connected to itself (its own port was the listener's, on this host) has
 * not reached the listener: -1, EADDRINUSE. */
static int connect_within(int fd, const struct sockaddr_storage *to, socklen_t len) {
  int flags = fcntl(fd, F_GETFL), err = 0;
  socklen_t n = sizeof err;
  fcntl(fd, F_SETFL, flags | O_NONBLOCK);
  int rc = connect(fd, (const struct sockaddr *)to, len);
  if (rc < 0 && errno == EINPROGRESS) {
    struct pollfd p = { fd, POLLOUT, 0 };
    for (double until = exchange_now() + CONNECT_SECONDS; (rc = poll(&p, 1, (int)((until - exchange_now()) * 1000))) < 0 && errno == EINTR;) {}
    if (rc == 0) errno = ETIMEDOUT;
    rc = rc == 1 && getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &n) == 0 && err == 0 ? 0 : -1;
    if (err) errno = err;
  }
  fcntl(fd, F_SETFL, flags);
  struct sockaddr_storage me, peer;
  socklen_t ml = sizeof me, pl = sizeof peer;
  if (rc == 0 && getsockname(fd, (struct sockaddr *)&me, &ml) == 0 && getpeername(fd, (struct sockaddr *)&peer, &pl) == 0 &&
      ml == pl && memcmp(&me, &peer, ml) == 0) {
    errno = EADDRINUSE;
    rc = -1;
  }
  return rc;
}

static int connect_to_peer(struct tcp_rec *r, const char *key) {
  char req[400], reply[300] = "", ip[64], any[64], from[INET6_ADDRSTRLEN];
  unsigned port = 0;
  snprintf(req, sizeof req, "LOOKUP %s %d\n", key, WAIT_SECONDS);
  if (ns_ask(req, reply, sizeof reply, WAIT_SECONDS + 10) < 0 || sscanf(reply, "FOUND %63s %u", ip, &port) != 2) {
    fprintf(stderr, "stasis-restart: %s: the other end of TCP connection %s:%u > %s:%u was not restored (LOOKUP: %s)\n", r->image,
            r->laddr, r->lport, r->paddr, r->pport, reply[0] ? reply : "no answer");
    return -1;
  }
  struct sockaddr_storage to;
  socklen_t len;
  if (inet_sockaddr(r->family, ip, port, &to, &len) < 0) return -1;
  any_host(r->family, any);
  const char *addrs[3] = { r->laddr, any, any };
  const unsigned ports[3] = { r->lport, r->lport, 0 };
  int err = 0;
  for (int at = 0; at < 3; at++) {   /* its old address and port if this host has them and they are free */
    r->sock = bind_first(r, addrs + at, ports + at, 1);
    if (r->sock >= 0 && connect_within(r->sock, &to, len) == 0) break;
    if (r->sock >= 0) err = errno, close(r->sock);
    r->sock = -1;
  }
  snprintf(req, sizeof req, "%s\n", key);
  if (r->sock < 0 || send_all(r->sock, req, strlen(req)) < 0) {
    fprintf(stderr, "stasis-restart: %s: cannot connect TCP connection %s:%u > %s:%u again to %s %u: %s\n", r->image, r->laddr, r->lport,
            r->paddr, r->pport, ip, port, strerror(r->sock < 0 && err ? err : errno));
    return -1;
  }
  unsigned fport = inet_sock_name(r->sock, from, sizeof from);
  trace(r, key, fport ? "connected from" : "connected", from, fport);
  return 0;
}

/* The key a connection sends first, within WAIT_SECONDS ("" if none). */
static void read_key(int fd, char *got, size_t cap) {
  size_t n = 0;
  while (n < cap - 1) {   /* one byte at a time: what follows is the exchange */
    struct pollfd q = { fd, POLLIN, 0 };
    if (poll(&q, 1, WAIT_SECONDS * 1000) != 1 || recv(fd, got + n, 1, 0) != 1 || got[n] == '\n') break;
    n++;
  }
  got[n] = 0;
}

/* The connection that sends `key`, within WAIT_SECONDS; one that sends
 * another (a stray, never meant for this listener) is closed and named. */
static int accept_peer(struct tcp_rec *r, const char *key) {
  char got[256] = "", ip[INET6_ADDRSTRLEN];
  unsigned port = inet_sock_name(r->listener, ip, sizeof ip);
  double start = exchange_now();
  for (double until = start + WAIT_SECONDS; r->sock < 0;) {
    struct pollfd p = { r->listener, POLLIN, 0 };
    int ms = (int)((until - exchange_now()) * 1000), ready = ms > 0 ? poll(&p, 1, ms) : 0;
    if (ready < 0 && errno == EINTR) continue;
    if (ready != 1) break;
    if ((r->sock = accept4(r->listener, NULL, NULL, SOCK_CLOEXEC)) < 0) continue;
    read_key(r->sock, got, sizeof got);
    if (strcmp(got, key) == 0) break;
    fprintf(stderr, "stasis-restart: %s: a connection to %s:%u sent '%.80s', not %s: closed\n", r->image, ip, port, got, key);
    close(r->sock);
    r->sock = -1;
  }
  close(r->listener);
  r->listener = -1;
  if (r->sock < 0) {
    fprintf(stderr, "stasis-restart: %s: the other end of TCP connection %s:%u > %s:%u did not connect to %s:%u within %.0f s\n",
            r->image, r->laddr, r->lport, r->paddr, r->pport, ip, port, exchange_now() - start);
    return -1;
  }
  trace(r, key, "accepted at", ip, port);
  return 0;
}

int xtcp_connect_all(struct tcp_rec *recs, int n, char *out, size_t cap) {
  char key[300];
  int rc = ns_open(), nfar = 0;
  for (int i = 0; i < n; i++) { recs[i].sock = recs[i].listener = -1; nfar += recs[i].far && !recs[i].listen; }
  for (int i = 0; i < n && rc == 0; i++)
    if (recs[i].far && !recs[i].listen && (recs[i].acceptor = key_of(&recs[i], key, sizeof key))) rc = publish(&recs[i], key);
  for (int i = 0; i < n && rc == 0; i++)
    if (recs[i].far && !recs[i].listen && !recs[i].acceptor && key_of(&recs[i], key, sizeof key) == 0) rc = connect_to_peer(&recs[i], key);
  for (int i = 0; i < n && rc == 0; i++)
    if (recs[i].far && !recs[i].listen && recs[i].acceptor && key_of(&recs[i], key, sizeof key)) rc = accept_peer(&recs[i], key);
  if (ns >= 0) close(ns);
  ns = -1;
  struct exchange *x = rc == 0 ? mmap(NULL, (size_t)nfar * sizeof *x, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0) : MAP_FAILED;
  int k = 0;
  for (int i = 0; i < n && x != MAP_FAILED; i++)
    if (recs[i].far && !recs[i].listen) exchange_init(&x[k++], recs[i].sock, recs[i].bytes, recs[i].len);
  int left = x != MAP_FAILED ? exchange_run(x, k, WAIT_SECONDS) : -1;
  if (x != MAP_FAILED) munmap(x, (size_t)nfar * sizeof *x);
  if (rc == 0 && left != 0) {
    fprintf(stderr, "stasis-restart: could not put the bytes in flight back into %d TCP connection(s) with another loader's processes\n",
            left < 0 ? nfar : left);
    rc = -1;
  }
  for (int i = 0; i < n; i++) {
    struct tcp_rec *r = &recs[i];
    if (!r->far || r->listen) continue;
    if (r->listener >= 0) close(r->listener);
    if (rc == 0 && (r->shutdown & 2)) shutdown(r->sock, SHUT_WR);
    if (rc == 0) { r->made = 1; rc = tcp_hand_over(r, r->sock, out, cap); }
  }
  return rc;
}
