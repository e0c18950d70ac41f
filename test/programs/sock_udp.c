/* UDP between a parent and its forked child, over IPv4 (argv[1] "4") or
 * IPv6 ("6"), with datagrams queued at any moment:
 *  S  a stream: the child's socket, bound and connected to the parent's
 *     (bound, connected, O_NONBLOCK), sends datagram n (n, then a pattern;
 *     1 to 2000 bytes) while fewer than WINDOW are unacknowledged; the
 *     parent reads 16 at a time, acknowledges the last (a datagram back),
 *     and wants n, n+1, …: one lost, doubled or cut prints BROKEN.
 *  P  a ping-pong: the child's second socket, never bound (the kernel
 *     gives it a port at its first send) nor connected, sends ping n to
 *     the parent's socket bound and not connected, which answers pong n to
 *     where the ping came from; the child wants pong n before ping n+1,
 *     and prints BROKEN when none comes for 30 s.
 *  U  a socket of the parent neither bound nor connected stays so.
 * argv[2] "shared": the child keeps the parent's ping-pong socket open too
 * (two processes hold it; its queue must come back once, not twice).
 * Options the parent set (SO_RCVBUF, SO_BROADCAST, IP_TOS or the traffic
 * class, O_NONBLOCK) are checked every tick. The parent prints
 * "tick N got S", the child "pong N" every 100 pongs. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define WINDOW 64
#define MAXLEN 2000

static int family;

static size_t size_of(long n) { return 9 + (size_t)(((uint64_t)n * 2654435761u) % (MAXLEN - 8)); }

static void make(long n, unsigned char *buf) {
  size_t len = size_of(n);
  memcpy(buf, &n, sizeof n);
  for (size_t k = sizeof n; k < len; k++) buf[k] = (unsigned char)(n * 7 + k * 13);
}

static void broken(const char *fmt, long a, long b) {
  usleep(500000);   /* the job being killed: a peer died first, and this process dies here */
  printf("BROKEN ");
  printf(fmt, a, b);
  printf("\n");
  fflush(stdout);
  exit(1);
}

/* A socket bound to the loopback address, port chosen by the kernel. */
static int bound(void) {
  int fd = socket(family, SOCK_DGRAM, 0);
  struct sockaddr_storage ss = { 0 };
  if (family == AF_INET) {
    struct sockaddr_in *in = (void *)&ss;
    in->sin_family = AF_INET;
    in->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  } else {
    struct sockaddr_in6 *in6 = (void *)&ss;
    in6->sin6_family = AF_INET6;
    in6->sin6_addr = in6addr_loopback;
  }
  if (fd < 0 || bind(fd, (struct sockaddr *)&ss, family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6)) < 0) {
    perror("bind");
    exit(1);
  }
  return fd;
}

static void name_of(int fd, struct sockaddr_storage *ss, socklen_t *len) {
  *len = sizeof *ss;
  getsockname(fd, (struct sockaddr *)ss, len);
}

static int get_int(int fd, int level, int name) {
  int v = -1;
  socklen_t n = sizeof v;
  getsockopt(fd, level, name, &v, &n);
  return v;
}

static void child(int data, int pinger, const struct sockaddr_storage *server, socklen_t server_len) {
  unsigned char buf[MAXLEN + 16];
  long next = 0, acked = -1, ping = 0, pongs = 0;
  struct timespec last, now;
  clock_gettime(CLOCK_MONOTONIC, &last);
  fcntl(data, F_SETFL, O_NONBLOCK);
  sendto(pinger, &ping, sizeof ping, 0, (const struct sockaddr *)server, server_len);
  for (;;) {
    struct pollfd p[2] = { { data, POLLIN | (next - acked <= WINDOW ? POLLOUT : 0), 0 }, { pinger, POLLIN, 0 } };
    int n = poll(p, 2, 100);
    if (n < 0 && errno != EINTR) { perror("poll"); exit(1); }
    while (next - acked <= WINDOW) {   /* the stream, as far as the window lets it */
      make(next, buf);
      ssize_t w = send(data, buf, size_of(next), 0);
      if (w < 0 && (errno == EAGAIN || errno == EINTR)) break;
      if (w != (ssize_t)size_of(next)) { perror("send"); exit(1); }
      next++;
    }
    long a;
    for (ssize_t r; (r = recv(data, &a, sizeof a, MSG_DONTWAIT)) == sizeof a;) {
      if (a <= acked || a >= next) broken("ack: wanted one in (%ld, ...), got %ld", acked, a);
      acked = a;
    }
    if (p[1].revents & POLLIN) {   /* the pong to the last ping */
      long got;
      ssize_t r = recv(pinger, &got, sizeof got, MSG_DONTWAIT);
      if (r == sizeof got) {
        if (got != ping) broken("pong: wanted %ld, got %ld", ping, got);
        clock_gettime(CLOCK_MONOTONIC, &last);
        if (++pongs % 100 == 0) printf("pong %ld\n", pongs / 100);
        ping++;
        if (sendto(pinger, &ping, sizeof ping, 0, (const struct sockaddr *)server, server_len) != sizeof ping) { perror("sendto"); exit(1); }
      }
    }
    clock_gettime(CLOCK_MONOTONIC, &now);
    if (now.tv_sec - last.tv_sec > 30) broken("pong %ld: none came for %ld s", ping, (long)(now.tv_sec - last.tv_sec));
  }
}

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  family = argc > 1 && strcmp(argv[1], "6") == 0 ? AF_INET6 : AF_INET;
  int data_p = bound(), data_c = bound(), server = bound();
  int unbound = socket(family, SOCK_DGRAM, 0);
  int rcvbuf = 400000, one = 1, tos = 0x10;
  setsockopt(data_p, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
  setsockopt(data_p, SOL_SOCKET, SO_BROADCAST, &one, sizeof one);
  if (family == AF_INET) setsockopt(data_p, IPPROTO_IP, IP_TOS, &tos, sizeof tos);
  else setsockopt(data_p, IPPROTO_IPV6, IPV6_TCLASS, &tos, sizeof tos);
  fcntl(data_p, F_SETFL, O_NONBLOCK);
  int want_rcvbuf = get_int(data_p, SOL_SOCKET, SO_RCVBUF);
  struct sockaddr_storage a_p, a_c, a_s;
  socklen_t l_p, l_c, l_s;
  name_of(data_p, &a_p, &l_p);
  name_of(data_c, &a_c, &l_c);
  name_of(server, &a_s, &l_s);
  if (connect(data_p, (struct sockaddr *)&a_c, l_c) < 0 || connect(data_c, (struct sockaddr *)&a_p, l_p) < 0) { perror("connect"); return 1; }
  pid_t pid = fork();
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    close(data_p);
    if (!(argc > 2 && strcmp(argv[2], "shared") == 0)) close(server);
    close(unbound);
    child(data_c, socket(family, SOCK_DGRAM, 0), &a_s, l_s);
  }
  close(data_c);
  unsigned char buf[MAXLEN + 16], want[MAXLEN + 16];
  long expect = 0;
  for (long tick = 0;; tick++) {
    struct timespec until;
    clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_nsec += 100000000;
    if (until.tv_nsec >= 1000000000) { until.tv_sec++; until.tv_nsec -= 1000000000; }
    for (;;) {
      struct timespec now;
      clock_gettime(CLOCK_MONOTONIC, &now);
      if (now.tv_sec > until.tv_sec || (now.tv_sec == until.tv_sec && now.tv_nsec >= until.tv_nsec)) break;
      struct pollfd p[2] = { { data_p, POLLIN, 0 }, { server, POLLIN, 0 } };
      poll(p, 2, 5);
      int got = 0;
      for (ssize_t r; got < 16 && (r = recv(data_p, buf, sizeof buf, MSG_DONTWAIT)) >= 0; got++) {
        long n;
        if (r < (ssize_t)sizeof n) broken("stream: a datagram of %ld bytes (wanted %ld)", (long)r, expect);
        memcpy(&n, buf, sizeof n);
        if (n != expect) broken(n < expect ? "stream: wanted %ld, got %ld again" : "stream: wanted %ld, got %ld (lost)", expect, n);
        make(n, want);
        if ((size_t)r != size_of(n) || memcmp(buf, want, (size_t)r) != 0) broken("stream: datagram %ld cut or changed (%ld bytes)", n, (long)r);
        expect++;
      }
      if (got) {
        long last = expect - 1;
        send(data_p, &last, sizeof last, 0);
      }
      struct sockaddr_storage from;
      socklen_t fl = sizeof from;
      long ping;
      if (recvfrom(server, &ping, sizeof ping, MSG_DONTWAIT, (struct sockaddr *)&from, &fl) == sizeof ping)
        sendto(server, &ping, sizeof ping, 0, (struct sockaddr *)&from, fl);
      if (got) { struct timespec ms = { 0, 3000000 }; nanosleep(&ms, NULL); }   /* slow: the queue stays full */
    }
    struct sockaddr_storage u;
    socklen_t ul;
    name_of(unbound, &u, &ul);
    int uport = family == AF_INET ? ((struct sockaddr_in *)&u)->sin_port : ((struct sockaddr_in6 *)&u)->sin6_port;
    if (uport != 0) broken("the unbound socket has port %ld (tick %ld)", (long)ntohs(uport), tick);
    int opt_tos = family == AF_INET ? get_int(data_p, IPPROTO_IP, IP_TOS) : get_int(data_p, IPPROTO_IPV6, IPV6_TCLASS);
    if (get_int(data_p, SOL_SOCKET, SO_RCVBUF) != want_rcvbuf || get_int(data_p, SOL_SOCKET, SO_BROADCAST) != 1 || opt_tos != tos ||
        !(fcntl(data_p, F_GETFL) & O_NONBLOCK))
      broken("options changed: rcvbuf %ld, tos %ld", (long)get_int(data_p, SOL_SOCKET, SO_RCVBUF), (long)opt_tos);
    printf("tick %ld got %ld\n", tick, expect);
  }
}
