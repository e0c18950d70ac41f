/* TCP over loopback, both ends in the job (argv[1]: 4 for 127.0.0.1, 6 for ::1;
 * argv[2] "udplite": the parent also holds a UDP-Lite socket, which makes every
 * checkpoint fail after the connections were drained; "shared": a third
 * child, forked after the accept, holds the parent's end and the listener
 * too, idle, so two processes hold one socket):
 *  a listener (SO_REUSEADDR, port chosen by the kernel) in the parent;
 *  a forked child connects to it (TCP_NODELAY, SO_KEEPALIVE, a 5 s
 *  SO_RCVTIMEO) and the two stream both ways with megabytes in flight: the
 *  parent's accepted end O_NONBLOCK (each tick it writes all it can and
 *  reads 256 KiB), the child blocking (a writer thread always blocked in
 *  write, its main thread reading 256 KiB a tick);
 *  a second child connects a new client every 5 ticks to the same port,
 *  sends "hello N", waits for the parent's echo and closes ("client N ok";
 *  a request cut by a restart — its server end was still in the listen
 *  queue — is sent again on a new connection).
 *  two more listeners share one port with SO_REUSEPORT (as pre-forked
 *  workers do), and must both listen there again after a restart.
 * Byte i of a stream is stream_byte(stream, i): any byte lost, doubled or
 * reordered prints BROKEN. The parent prints "tick N ..." every 100 ms,
 * the first child "child got N" every 20 of its ticks. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define CHUNK (256 * 1024)

static void broken(const char *fmt, long long a, long long b) {
  usleep(500000);   /* the job being killed: a peer died first, and this process dies here */
  printf("BROKEN ");
  printf(fmt, a, b);
  printf("\n");
  fflush(stdout);
  exit(3);
}

static unsigned char stream_byte(int stream, long long i) {
  return (unsigned char)((((uint64_t)i * 0x9E3779B97F4A7C15ull) >> 56) ^ (uint64_t)(stream * 37));
}

static void fill(int stream, long long from, unsigned char *buf, size_t n) {
  for (size_t k = 0; k < n; k++) buf[k] = stream_byte(stream, from + (long long)k);
}

static void check(int stream, long long *pos, const unsigned char *buf, size_t n) {
  for (size_t k = 0; k < n; k++)
    if (buf[k] != stream_byte(stream, *pos + (long long)k)) broken("stream %lld: wrong byte at %lld", stream, *pos + (long long)k);
  *pos += (long long)n;
}

static void sleep_ms(int ms) {
  struct timespec ts = { 0, ms * 1000000L };
  while (nanosleep(&ts, &ts) < 0 && errno == EINTR) {}
}

static int family;
static struct sockaddr_storage server;
static socklen_t server_len;

static int get_int(int fd, int level, int opt) {
  int v = -1;
  socklen_t n = sizeof v;
  getsockopt(fd, level, opt, &v, &n);
  return v;
}

static int connect_server(void) {
  int fd = socket(family, SOCK_STREAM, 0);
  if (fd < 0) broken("socket: errno %lld%lld", errno, 0);
  if (connect(fd, (struct sockaddr *)&server, server_len) < 0) broken("connect to the listener: errno %lld%lld", errno, 0);
  return fd;
}

struct writer { int fd, stream; long long sent; };
static void *write_forever(void *arg) {
  struct writer *w = arg;
  static unsigned char buf[65536];
  for (;;) {
    fill(w->stream, w->sent, buf, sizeof buf);
    for (size_t off = 0; off < sizeof buf;) {
      ssize_t n = write(w->fd, buf + off, sizeof buf - off);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) broken("stream %lld: write failed (errno %lld)", w->stream, errno);
      off += (size_t)n;
      w->sent += n;
    }
  }
  return NULL;
}

static void streamer(void) {
  int fd = connect_server(), one = 1;
  struct timeval tv = { 5, 0 };
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one);
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  static struct writer w;
  w = (struct writer){ fd, 2, 0 };
  pthread_t t;
  pthread_create(&t, NULL, write_forever, &w);
  static unsigned char buf[CHUNK];
  long long pos = 0;
  for (long tick = 1;; tick++) {
    for (size_t got = 0; got < CHUNK;) {
      ssize_t n = read(fd, buf, CHUNK - got);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) broken("child: read failed or EOF (errno %lld) at %lld", n < 0 ? errno : 0, pos);
      check(1, &pos, buf, (size_t)n);
      got += (size_t)n;
    }
    struct timeval now;
    socklen_t n = sizeof now;
    if (getsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &now, &n) < 0 || now.tv_sec != 5) broken("child: SO_RCVTIMEO is now %lld s%lld", now.tv_sec, 0);
    if (get_int(fd, IPPROTO_TCP, TCP_NODELAY) != 1) broken("child: TCP_NODELAY lost%lld%lld", 0, 0);
    if (get_int(fd, SOL_SOCKET, SO_KEEPALIVE) != 1) broken("child: SO_KEEPALIVE lost%lld%lld", 0, 0);
    if (tick % 20 == 0) printf("child got %lld\n", pos);
    sleep_ms(100);
  }
}

/* One request on a new connection; 0 when it was answered, -1 when the
 * connection ended first (a restart cut it). */
static int request(long n) {
  int fd = connect_server();
  char msg[32], got[32];
  int len = snprintf(msg, sizeof msg, "hello %ld\n", n);
  if (send(fd, msg, (size_t)len, MSG_NOSIGNAL) != len) { close(fd); return -1; }
  int have = 0;
  while (have < len) {
    ssize_t r = recv(fd, got + have, (size_t)(len - have), 0);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) { close(fd); return -1; }
    have += (int)r;
  }
  close(fd);
  if (memcmp(got, msg, (size_t)len) != 0) broken("client %lld: wrong echo%lld", n, 0);
  return 0;
}

static void clients(void) {
  for (long n = 1;; n++) {
    while (request(n) < 0) printf("client %ld retried\n", n);
    printf("client %ld ok\n", n);
    sleep_ms(500);
  }
}

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  signal(SIGPIPE, SIG_IGN);
  family = argc > 1 && strcmp(argv[1], "6") == 0 ? AF_INET6 : AF_INET;
  int l = socket(family, SOCK_STREAM, 0), one = 1;
  memset(&server, 0, sizeof server);
  if (family == AF_INET) {
    struct sockaddr_in *in = (void *)&server;
    in->sin_family = AF_INET;
    in->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    server_len = sizeof *in;
  } else {
    struct sockaddr_in6 *in6 = (void *)&server;
    in6->sin6_family = AF_INET6;
    in6->sin6_addr = in6addr_loopback;
    server_len = sizeof *in6;
  }
  setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (bind(l, (struct sockaddr *)&server, server_len) < 0 || listen(l, 16) < 0) { perror("listen"); return 1; }
  getsockname(l, (struct sockaddr *)&server, &server_len);
  printf("listening on port %d\n", ntohs(family == AF_INET ? ((struct sockaddr_in *)&server)->sin_port : ((struct sockaddr_in6 *)&server)->sin6_port));
  if (argc > 2 && strcmp(argv[2], "udplite") == 0) {
    int u = socket(AF_INET, SOCK_DGRAM, IPPROTO_UDPLITE);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    if (u < 0 || bind(u, (struct sockaddr *)&a, sizeof a) < 0) { perror("udp"); return 1; }
  }
  int pair[2];
  struct sockaddr_storage shared = server;   /* the same address, another port */
  if (family == AF_INET) ((struct sockaddr_in *)&shared)->sin_port = 0;
  else ((struct sockaddr_in6 *)&shared)->sin6_port = 0;
  for (int i = 0; i < 2; i++) {
    pair[i] = socket(family, SOCK_STREAM, 0);
    setsockopt(pair[i], SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
    socklen_t sl = server_len;
    if (bind(pair[i], (struct sockaddr *)&shared, server_len) < 0 || listen(pair[i], 4) < 0 ||
        getsockname(pair[i], (struct sockaddr *)&shared, &sl) < 0) { perror("reuseport"); return 1; }
  }
  if (fork() == 0) { close(l); close(pair[0]); close(pair[1]); streamer(); }
  int conn = accept(l, NULL, NULL);
  if (conn < 0) { perror("accept"); return 1; }
  if (fork() == 0) { close(l); close(conn); close(pair[0]); close(pair[1]); clients(); }
  if (argc > 2 && strcmp(argv[2], "shared") == 0 && fork() == 0)
    for (;;) pause();
  fcntl(conn, F_SETFL, O_NONBLOCK);
  fcntl(l, F_SETFL, O_NONBLOCK);
  static unsigned char buf[CHUNK], out[CHUNK];
  long long sent = 0, got = 0, echoed = 0;
  for (long tick = 0;; tick++) {
    for (;;) {
      fill(1, sent, out, CHUNK);
      ssize_t n = send(conn, out, CHUNK, 0);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && errno == EAGAIN) break;
      if (n <= 0) broken("parent: send failed (errno %lld)%lld", errno, 0);
      sent += n;
    }
    for (size_t have = 0; have < CHUNK;) {
      ssize_t n = recv(conn, buf, CHUNK - have, 0);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && errno == EAGAIN) break;
      if (n <= 0) broken("parent: read failed or EOF (errno %lld)%lld", n < 0 ? errno : 0, 0);
      check(2, &got, buf, (size_t)n);
      have += (size_t)n;
    }
    /* Clients: each sends one line and gets it back. */
    int c;
    while ((c = accept(l, NULL, NULL)) >= 0) {
      char line[64];
      struct pollfd p = { c, POLLIN, 0 };
      ssize_t n = poll(&p, 1, 2000) > 0 ? recv(c, line, sizeof line, 0) : -1;
      if (n > 0 && send(c, line, (size_t)n, MSG_NOSIGNAL) == n) echoed++;
      close(c);
    }
    if (!(fcntl(conn, F_GETFL) & O_NONBLOCK)) broken("parent: its end lost O_NONBLOCK%lld%lld", 0, 0);
    if (get_int(l, SOL_SOCKET, SO_REUSEADDR) != 1) broken("parent: the listener lost SO_REUSEADDR%lld%lld", 0, 0);
    for (int i = 0; i < 2; i++)
      if (get_int(pair[i], SOL_SOCKET, SO_ACCEPTCONN) != 1 || get_int(pair[i], SOL_SOCKET, SO_REUSEPORT) != 1)
        broken("parent: a SO_REUSEPORT listener (%lld) no longer listens with it%lld", i, 0);
    printf("tick %ld sent=%lld got=%lld echoed=%lld\n", tick, sent, got, echoed);
    sleep_ms(100);
  }
}
