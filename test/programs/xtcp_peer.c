/* One end of a TCP connection whose other end is another program of the
 * job, started on its own (another `stasis launch`, possibly on another
 * host):
 *   xtcp_peer server PORT [ADDR [keep|half [BYTES [RCVBUF]]]]
 *                                  listens on ADDR (default 0.0.0.0):PORT (0:
 *                                  any, printed), accepts one connection and
 *                                  closes the listener — or, with "keep",
 *                                  keeps it, answering "ping" with "pong" on
 *                                  every further connection;
 *   xtcp_peer client ADDR PORT [half [BYTES]]
 *                                  connects (retrying while refused);
 *   xtcp_peer probe ADDR PORT      connects once, sends "ping", prints "probe ok"
 *                                  when "pong" comes back (not a stream).
 * Both then stream both ways with megabytes in flight: a writer thread
 * always blocked in write (the server sends stream 1, the client stream 2),
 * the main thread reading at most 512 KiB every 50 ms (slower than the
 * writer, so both directions' queues stay full: 2 MiB socket buffers).
 * With "half [BYTES]" on both: the client shuts down writing after BYTES
 * (1.5 MiB), the server reads 4 KiB a tick, prints "server eof after BYTES" at EOF and
 * writes 4 KiB a tick on. ADDR is IPv4, or IPv6 when it has a colon.
 * Byte i of a stream is stream_byte(stream, i): a byte lost, doubled or
 * reordered prints BROKEN. Prints "server|client tick N got BYTES" every tick. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define CHUNK (512 * 1024)

static void broken(const char *what, long long a, long long b) {
  usleep(500000);   /* the job being killed: a peer died first, and this process dies here */
  printf("BROKEN %s %lld %lld\n", what, a, b);
  fflush(stdout);
  exit(3);
}

static unsigned char stream_byte(int stream, long long i) {
  return (unsigned char)((((uint64_t)i * 0x9E3779B97F4A7C15ull) >> 56) ^ (uint64_t)(stream * 37));
}

static void sleep_ms(int ms) {
  struct timespec ts = { 0, ms * 1000000L };
  while (nanosleep(&ts, &ts) < 0 && errno == EINTR) {}
}

/* "half": the client shuts down writing after HALF_BYTES; the server
 * reads and writes 4 KiB a tick (its queue toward the client stays short). */
static int half;
static long long half_bytes = 1536 * 1024;   /* a multiple of 64 KiB */
static int rcvbuf = 2 << 20;                  /* the server's, with "half BYTES RCVBUF": a small one keeps the client's bytes in its send queue */

struct writer { int fd, stream; long long sent; };
static void *write_forever(void *arg) {
  struct writer *w = arg;
  static unsigned char buf[65536];
  size_t chunk = half && w->stream == 1 ? 4096 : sizeof buf;
  for (;;) {
    if (half && w->stream == 2 && w->sent == half_bytes) {
      shutdown(w->fd, SHUT_WR);
      printf("client shut down writing after %lld\n", w->sent);
      return NULL;
    }
    for (size_t k = 0; k < chunk; k++) buf[k] = stream_byte(w->stream, w->sent + (long long)k);
    for (size_t off = 0; off < chunk;) {
      ssize_t n = write(w->fd, buf + off, chunk - off);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) broken("write failed (stream, errno)", w->stream, n < 0 ? errno : 0);
      off += (size_t)n;
    }
    w->sent += (long long)chunk;
    if (chunk < sizeof buf) sleep_ms(50);
  }
  return NULL;
}

/* IPv4, or IPv6 when the address has a colon; its length. */
static socklen_t address(const char *ip, int port, struct sockaddr_storage *ss) {
  memset(ss, 0, sizeof *ss);
  struct sockaddr_in *a = (void *)ss;
  struct sockaddr_in6 *a6 = (void *)ss;
  int v6 = strchr(ip, ':') != NULL;
  if (v6) { a6->sin6_family = AF_INET6; a6->sin6_port = htons((unsigned short)port); }
  else { a->sin_family = AF_INET; a->sin_port = htons((unsigned short)port); }
  if (inet_pton(v6 ? AF_INET6 : AF_INET, ip, v6 ? (void *)&a6->sin6_addr : (void *)&a->sin_addr) != 1) { fprintf(stderr, "bad address %s\n", ip); exit(2); }
  return v6 ? sizeof *a6 : sizeof *a;
}

static int port_of(const struct sockaddr_storage *ss) {
  return ntohs(ss->ss_family == AF_INET ? ((const struct sockaddr_in *)ss)->sin_port : ((const struct sockaddr_in6 *)ss)->sin6_port);
}

/* "keep": every further connection to the listener gets "pong" for its "ping". */
static void *answer_pings(void *arg) {
  int l = (int)(long)arg;
  for (;;) {
    int c = accept(l, NULL, NULL);
    if (c < 0) { if (errno == EINTR) continue; broken("accept failed (errno, -)", errno, 0); }
    char buf[8];
    ssize_t n = recv(c, buf, 5, MSG_WAITALL);
    if (n == 5 && memcmp(buf, "ping\n", 5) == 0) send(c, "pong\n", 5, MSG_NOSIGNAL);
    close(c);
  }
  return NULL;
}

static int probe(const char *ip, int port) {
  struct sockaddr_storage a;
  socklen_t alen = address(ip, port, &a);
  int fd = socket(a.ss_family, SOCK_STREAM, 0);
  char buf[8];
  if (connect(fd, (struct sockaddr *)&a, alen) < 0) { perror("connect"); return 1; }
  if (send(fd, "ping\n", 5, MSG_NOSIGNAL) != 5 || recv(fd, buf, 5, MSG_WAITALL) != 5 || memcmp(buf, "pong\n", 5) != 0) {
    printf("probe: no pong\n");
    return 1;
  }
  printf("probe ok\n");
  return 0;
}

static int serve(int port, const char *ip, int keep) {
  struct sockaddr_storage a;
  socklen_t len = address(ip, port, &a);
  int l = socket(a.ss_family, SOCK_STREAM, 0), one = 1;
  setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  setsockopt(l, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);   /* before the connection: its window */
  if (bind(l, (struct sockaddr *)&a, len) < 0 || listen(l, 1) < 0) { perror("listen"); exit(1); }
  len = sizeof a;
  getsockname(l, (struct sockaddr *)&a, &len);
  printf("listening on %s %d\n", ip, port_of(&a));
  int fd = accept(l, NULL, NULL);
  if (fd < 0) { perror("accept"); exit(1); }
  pthread_t t;
  if (keep) pthread_create(&t, NULL, answer_pings, (void *)(long)l);
  else close(l);
  return fd;
}

static int dial(const char *ip, int port) {
  struct sockaddr_storage a;
  socklen_t len = address(ip, port, &a);
  for (int tries = 0;; tries++) {
    int fd = socket(a.ss_family, SOCK_STREAM, 0);
    if (connect(fd, (struct sockaddr *)&a, len) == 0) return fd;
    close(fd);
    if (tries > 400) { perror("connect"); exit(1); }
    sleep_ms(50);
  }
}

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  signal(SIGPIPE, SIG_IGN);
  int server = argc >= 3 && strcmp(argv[1], "server") == 0;
  if (argc == 4 && strcmp(argv[1], "probe") == 0) return probe(argv[2], atoi(argv[3]));
  if (!server && !(argc >= 4 && argc <= 6 && strcmp(argv[1], "client") == 0)) {
    fprintf(stderr, "usage: xtcp_peer server PORT [ADDR [keep|half [BYTES [RCVBUF]]]] | client ADDR PORT [half [BYTES]] | probe ADDR PORT\n");
    return 2;
  }
  int keep = server && argc > 4 && strcmp(argv[4], "keep") == 0;
  half = argc > 4 && strcmp(argv[4], "half") == 0;
  if (half && argc > 5) half_bytes = atoll(argv[5]);
  if (half && server && argc > 6) rcvbuf = atoi(argv[6]);
  int fd = server ? serve(atoi(argv[2]), argc > 3 ? argv[3] : "0.0.0.0", keep) : dial(argv[2], atoi(argv[3]));
  int size = 2 << 20;
  setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
  setsockopt(fd, SOL_SOCKET, SO_RCVBUF, server ? &rcvbuf : &size, sizeof size);
  printf("connected\n");
  static struct writer w;
  w = (struct writer){ fd, server ? 1 : 2, 0 };
  pthread_t t;
  pthread_create(&t, NULL, write_forever, &w);
  static unsigned char buf[CHUNK];
  int in = server ? 2 : 1;
  long long pos = 0;
  for (long tick = 1;; tick++) {
    ssize_t n = read(fd, buf, half && server ? 4096 : CHUNK);
    if (n < 0 && errno == EINTR) continue;
    if (n == 0 && half && server && pos == half_bytes) {
      printf("server eof after %lld\n", pos);
      for (;;) sleep_ms(1000);
    }
    if (n <= 0) broken("read failed or EOF (errno, at)", n < 0 ? errno : 0, pos);
    for (ssize_t k = 0; k < n; k++)
      if (buf[k] != stream_byte(in, pos + k)) broken("wrong byte (stream, at)", in, pos + k);
    pos += n;
    printf("%s tick %ld got %lld\n", argv[1], tick, pos);
    sleep_ms(50);
  }
}
