/* UNIX datagram and seqpacket socketpairs with many messages in flight:
 *  D  a SOCK_DGRAM pair between a parent and its forked child, both ways
 *     (the parent's end O_NONBLOCK, the child's blocking);
 *  Q  a SOCK_SEQPACKET pair between two threads of the parent.
 * Message n has size_of(n) bytes (1 to 9000, and 100000 every 50th: larger
 * than one peek) and carries n and a pattern; the receiver wants n, n+1, …
 * with their exact sizes: a message lost, doubled, merged or cut prints
 * BROKEN. Senders send all the socket takes each tick, receivers take 40,
 * so the queues stay full. The parent prints "tick N ...", the child
 * "child got N" every 20 of its ticks. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAXMSG 100000
#define PER_TICK 40

static size_t size_of(int stream, long n) {
  if (n % 50 == 49) return MAXMSG;
  return 1 + (size_t)(((uint64_t)(n + stream) * 2654435761u) % 9000);
}

static void make(int stream, long n, unsigned char *buf) {
  size_t len = size_of(stream, n);
  for (size_t k = 0; k < len; k++) buf[k] = (unsigned char)(n * 7 + k * 13 + stream);
  if (len >= sizeof n) memcpy(buf, &n, sizeof n);
}

static void broken(const char *what, int stream, long want, long got) {
  usleep(500000);   /* the job being killed: a peer died first, and this process dies here */
  printf("BROKEN %s: stream %d wanted message %ld, got %ld\n", what, stream, want, got);
  fflush(stdout);
  exit(3);
}

/* Checks one received message against the next one expected. */
static void check(int stream, long *next, const unsigned char *buf, ssize_t len, int flags) {
  size_t want = size_of(stream, *next);
  if (flags & MSG_TRUNC) broken("truncated", stream, *next, -1);
  if ((size_t)len != want) broken("wrong size", stream, *next, (long)len);
  static __thread unsigned char exp[MAXMSG];
  make(stream, *next, exp);
  if (memcmp(exp, buf, want) != 0) {
    long n = -1;
    if (len >= (ssize_t)sizeof n) memcpy(&n, buf, sizeof n);
    broken("wrong contents", stream, *next, n);
  }
  ++*next;
}

static void sleep_ms(int ms) {
  struct timespec ts = { 0, ms * 1000000L };
  while (nanosleep(&ts, &ts) < 0 && errno == EINTR) {}
}

/* Sends until the socket is full (MSG_DONTWAIT); returns how many. */
static long send_all(int fd, int stream, long *next) {
  static __thread unsigned char buf[MAXMSG];
  long sent = 0;
  for (;;) {
    make(stream, *next, buf);
    ssize_t n = send(fd, buf, size_of(stream, *next), MSG_DONTWAIT);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return sent;
    if (n < 0) broken("send failed", stream, *next, -errno);
    ++*next;
    sent++;
  }
}

/* Receives up to `count` messages (waiting for each when `wait`). */
static void receive(int fd, int stream, long *next, int count, int wait) {
  static __thread unsigned char buf[MAXMSG + 1];
  for (int i = 0; i < count; i++) {
    struct iovec iov = { buf, sizeof buf };
    struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1 };
    ssize_t n = recvmsg(fd, &m, wait ? 0 : MSG_DONTWAIT);
    if (n < 0 && errno == EINTR) { i--; continue; }
    if (n < 0 && !wait && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
    if (n < 0) broken("recv failed", stream, *next, -errno);
    check(stream, next, buf, n, m.msg_flags);
  }
}

static void set_sndbuf(int fd, int bytes) {
  if (setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &bytes, sizeof bytes) < 0) { perror("SO_SNDBUF"); exit(1); }
}

static void child(int fd) {
  long in = 0, out = 0;
  for (long tick = 1;; tick++) {
    send_all(fd, 2, &out);
    receive(fd, 1, &in, PER_TICK, 1);
    if (fcntl(fd, F_GETFL) & O_NONBLOCK) broken("O_NONBLOCK appeared", 1, in, 0);
    if (tick % 20 == 0) printf("child got %ld\n", in);
    sleep_ms(100);
  }
}

static int q[2];
static volatile long q_sent;
static void *seqpacket_sender(void *arg) {
  (void)arg;
  long next = 0;
  for (;;) {
    send_all(q[0], 3, &next);
    q_sent = next;
    sleep_ms(50);
  }
  return NULL;
}

int main(void) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  int d[2];
  if (socketpair(AF_UNIX, SOCK_DGRAM, 0, d) < 0 || socketpair(AF_UNIX, SOCK_SEQPACKET, 0, q) < 0) { perror("socketpair"); return 1; }
  set_sndbuf(d[0], 1 << 20);
  set_sndbuf(d[1], 1 << 20);
  set_sndbuf(q[0], 1 << 20);
  pid_t pid = fork();
  if (pid == 0) { close(d[0]); close(q[0]); close(q[1]); child(d[1]); }
  close(d[1]);
  fcntl(d[0], F_SETFL, O_NONBLOCK);
  pthread_t t;
  pthread_create(&t, NULL, seqpacket_sender, NULL);
  long d_out = 0, d_in = 0, q_in = 0;
  for (long tick = 0;; tick++) {
    send_all(d[0], 1, &d_out);
    receive(d[0], 2, &d_in, PER_TICK, 0);
    receive(q[1], 3, &q_in, PER_TICK, 0);
    if (!(fcntl(d[0], F_GETFL) & O_NONBLOCK)) broken("O_NONBLOCK lost", 1, d_in, 0);
    printf("tick %ld sent=%ld got=%ld q=%ld/%ld\n", tick, d_out, d_in, q_in, (long)q_sent);
    sleep_ms(100);
  }
}
