/* UNIX stream socketpairs with megabytes in flight, every byte checked:
 *  P  a parent and its forked child, both ways, 2 MiB send buffers: the
 *     parent's end is O_NONBLOCK (each tick it writes all it can and reads
 *     256 KiB), the child's is blocking with a 5 s receive timeout (a
 *     writer thread always blocked in write, the main thread reading
 *     256 KiB a tick), so both queues stay full;
 *  T  two threads of the parent: a writer thread, the main thread reading;
 *  S  a pair in the parent whose one end sent 300000 bytes and shut down
 *     writing: the other reads 2000 a tick, must then see EOF (and again at
 *     every tick), while bytes still go the other way and writing at the
 *     shut end fails with EPIPE.
 * Byte i of a stream is stream_byte(stream, i): any byte lost, doubled or
 * reordered prints BROKEN. The parent prints "tick N ..." every 100 ms, the
 * child "child got N" every 20 of its ticks. */
#include <errno.h>
#include <fcntl.h>
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
#define S_TOTAL 300000

static void broken(const char *fmt, long long a, long long b) {
  usleep(500000);   /* the job being killed: a peer died first, and this process dies here */
  printf("BROKEN ");
  printf(fmt, a, b);
  printf("\n");
  fflush(stdout);
}

static unsigned char stream_byte(int stream, long long i) {
  return (unsigned char)((((uint64_t)i * 0x9E3779B97F4A7C15ull) >> 56) ^ (uint64_t)(stream * 37));
}

static void fill(int stream, long long from, unsigned char *buf, size_t n) {
  for (size_t k = 0; k < n; k++) buf[k] = stream_byte(stream, from + (long long)k);
}

/* Checks n received bytes at position *pos of the stream, and advances. */
static void check(int stream, long long *pos, const unsigned char *buf, size_t n) {
  for (size_t k = 0; k < n; k++)
    if (buf[k] != stream_byte(stream, *pos + (long long)k)) {
      broken("stream %lld: wrong byte at %lld", stream, *pos + (long long)k);
      exit(3);
    }
  *pos += (long long)n;
}

static void sleep_ms(int ms) {
  struct timespec ts = { 0, ms * 1000000L };
  while (nanosleep(&ts, &ts) < 0 && errno == EINTR) {}
}

/* A thread writing one stream into a blocking socket for ever. */
struct writer { int fd, stream; volatile long long sent; };
static void *write_forever(void *arg) {
  struct writer *w = arg;
  static __thread unsigned char buf[65536];
  for (;;) {
    fill(w->stream, w->sent, buf, sizeof buf);
    for (size_t off = 0; off < sizeof buf;) {
      ssize_t n = write(w->fd, buf + off, sizeof buf - off);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) { broken("stream %lld: write failed (errno %lld)", w->stream, errno); exit(3); }
      off += (size_t)n;
      w->sent += n;
    }
  }
  return NULL;
}

/* Reads up to `max` bytes without waiting; returns how many (0 if none). */
static size_t read_some(int fd, int stream, long long *pos, unsigned char *buf, size_t max, int flags) {
  size_t got = 0;
  while (got < max) {
    ssize_t n = recv(fd, buf, max - got < CHUNK ? max - got : CHUNK, flags);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
    if (n <= 0) { broken("stream %lld: read failed or EOF (errno %lld)", stream, n < 0 ? errno : 0); exit(3); }
    check(stream, pos, buf, (size_t)n);
    got += (size_t)n;
  }
  return got;
}

static void set_sndbuf(int fd, int bytes) {
  if (setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &bytes, sizeof bytes) < 0) { perror("SO_SNDBUF"); exit(1); }
}

static int get_int(int fd, int opt) {
  int v = -1;
  socklen_t n = sizeof v;
  getsockopt(fd, SOL_SOCKET, opt, &v, &n);
  return v;
}

static void child(int fd) {
  struct timeval tv = { 5, 0 };
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  int sndbuf = get_int(fd, SO_SNDBUF);
  static struct writer w;
  w = (struct writer){ fd, 2, 0 };
  pthread_t t;
  pthread_create(&t, NULL, write_forever, &w);
  static unsigned char buf[CHUNK];
  long long pos = 0;
  for (long tick = 1;; tick++) {
    /* Blocking reads: exactly CHUNK bytes a tick. */
    for (size_t got = 0; got < CHUNK;) {
      ssize_t n = read(fd, buf, CHUNK - got);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) { broken("child: read failed or EOF (errno %lld) at %lld", n < 0 ? errno : 0, pos); exit(3); }
      check(1, &pos, buf, (size_t)n);
      got += (size_t)n;
    }
    struct timeval now;
    socklen_t n = sizeof now;
    if (getsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &now, &n) < 0 || now.tv_sec != 5) broken("child: SO_RCVTIMEO is now %lld s%lld", now.tv_sec, 0);
    if (fcntl(fd, F_GETFL) & O_NONBLOCK) broken("child: its end became O_NONBLOCK%lld%lld", 0, 0);
    if (get_int(fd, SO_SNDBUF) != sndbuf) broken("child: SO_SNDBUF %lld, was %lld", get_int(fd, SO_SNDBUF), sndbuf);
    if (tick % 20 == 0) printf("child got %lld\n", pos);
    sleep_ms(100);
  }
}

int main(void) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  signal(SIGPIPE, SIG_IGN);
  int p[2], t[2], s[2];
  if (socketpair(AF_UNIX, SOCK_STREAM, 0, p) < 0 || socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, t) < 0 ||
      socketpair(AF_UNIX, SOCK_STREAM, 0, s) < 0) { perror("socketpair"); return 1; }
  set_sndbuf(p[0], 2 << 20);
  set_sndbuf(p[1], 2 << 20);
  set_sndbuf(t[0], 1 << 20);
  set_sndbuf(s[0], 1 << 20);
  pid_t pid = fork();
  if (pid == 0) { close(p[0]); close(t[0]); close(t[1]); close(s[0]); close(s[1]); child(p[1]); }
  close(p[1]);
  fcntl(p[0], F_SETFL, O_NONBLOCK);
  static unsigned char buf[CHUNK], out[2 * CHUNK];
  /* S: everything it will ever send, then no more sending. */
  fill(4, 0, out, S_TOTAL);
  if (write(s[0], out, S_TOTAL) != S_TOTAL || shutdown(s[0], SHUT_WR) < 0) { perror("S"); return 1; }
  static struct writer tw;
  tw = (struct writer){ t[0], 3, 0 };
  pthread_t th;
  pthread_create(&th, NULL, write_forever, &tw);
  long long p_sent = 0, p_got = 0, t_got = 0, s_got = 0, s_back = 0;
  int s_eof = 0;
  for (long tick = 0;; tick++) {
    /* P: write all the socket takes, read a chunk. */
    for (;;) {
      fill(1, p_sent, out, CHUNK);
      ssize_t n = send(p[0], out, CHUNK, 0);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && errno == EAGAIN) break;
      if (n <= 0) { broken("P: send failed (errno %lld)%lld", errno, 0); return 3; }
      p_sent += n;
    }
    read_some(p[0], 2, &p_got, buf, CHUNK, 0);
    read_some(t[1], 3, &t_got, buf, CHUNK / 2, MSG_DONTWAIT);
    /* S: 2000 bytes a tick, then EOF for ever. */
    if (s_got < S_TOTAL) {
      long long want = S_TOTAL - s_got < 2000 ? S_TOTAL - s_got : 2000;
      ssize_t n = recv(s[1], buf, (size_t)want, MSG_DONTWAIT | MSG_WAITALL);
      if (n != want) { broken("S: got %lld of %lld bytes", n, want); return 3; }
      check(4, &s_got, buf, (size_t)n);
    } else {
      ssize_t n = recv(s[1], buf, 1, MSG_DONTWAIT);
      if (n != 0) { broken("S: after its %lld bytes, read gave %lld instead of EOF", s_got, n < 0 ? -errno : n); return 3; }
      if (!s_eof) printf("S eof after %lld\n", s_got);
      s_eof = 1;
    }
    if (send(s[0], "x", 1, MSG_DONTWAIT | MSG_NOSIGNAL) != -1 || errno != EPIPE) broken("S: writing at the shut end did not fail with EPIPE%lld%lld", 0, 0);
    char b[8];
    if (send(s[1], "back", 4, MSG_DONTWAIT) != 4 || recv(s[0], b, 4, MSG_DONTWAIT) != 4 || memcmp(b, "back", 4) != 0)
      broken("S: the other way stopped working at %lld%lld", s_back, 0);
    s_back++;
    if (!(fcntl(p[0], F_GETFL) & O_NONBLOCK)) broken("P: the parent's end lost O_NONBLOCK%lld%lld", 0, 0);
    if (!(fcntl(t[1], F_GETFD) & FD_CLOEXEC)) broken("T: lost close-on-exec%lld%lld", 0, 0);
    printf("tick %ld p2c=%lld c2p=%lld t=%lld s=%lld\n", tick, p_sent, p_got, t_got, s_got);
    sleep_ms(100);
  }
}
