/* A half-closed TCP connection over loopback: a forked child connects,
 * sends 300000 bytes and shuts down writing; the parent reads them 2000 a
 * tick, then must see EOF (and again at every tick); meanwhile the parent
 * sends 1000 bytes a tick the other way, which the child reads and checks.
 * Byte i of a stream is stream_byte(stream, i): BROKEN on any difference.
 * The parent prints "tick N got=..." every 100 ms ("eof after N" once),
 * the child "child got N" every 20 of its reads. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define TOTAL 300000

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

static void sleep_ms(int ms) {
  struct timespec ts = { 0, ms * 1000000L };
  while (nanosleep(&ts, &ts) < 0 && errno == EINTR) {}
}

int main(void) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  signal(SIGPIPE, SIG_IGN);
  int l = socket(AF_INET, SOCK_STREAM, 0), big = 1 << 20;
  struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
  socklen_t al = sizeof a;
  setsockopt(l, SOL_SOCKET, SO_RCVBUF, &big, sizeof big);   /* all 300000 bytes fit in the parent's queue */
  if (bind(l, (struct sockaddr *)&a, sizeof a) < 0 || listen(l, 1) < 0 || getsockname(l, (struct sockaddr *)&a, &al) < 0) { perror("listen"); return 1; }
  if (fork() == 0) {
    close(l);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) < 0) broken("child: connect errno %lld%lld", errno, 0);
    static unsigned char out[TOTAL];
    for (long long i = 0; i < TOTAL; i++) out[i] = stream_byte(1, i);
    for (size_t off = 0; off < TOTAL;) {
      ssize_t n = write(fd, out + off, TOTAL - off);
      if (n <= 0) broken("child: write errno %lld%lld", errno, 0);
      off += (size_t)n;
    }
    if (shutdown(fd, SHUT_WR) < 0) broken("child: shutdown errno %lld%lld", errno, 0);
    long long pos = 0;
    for (long reads = 1;; reads++) {
      unsigned char buf[1000];
      ssize_t n = read(fd, buf, sizeof buf);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) broken("child: read gave %lld (errno %lld)", n, errno);
      for (ssize_t k = 0; k < n; k++)
        if (buf[k] != stream_byte(2, pos + k)) broken("child: wrong byte at %lld%lld", pos + k, 0);
      pos += n;
      if (reads % 20 == 0) printf("child got %lld\n", pos);
      if (send(fd, "x", 1, MSG_NOSIGNAL) != -1 || errno != EPIPE) broken("child: writing after shutdown did not fail with EPIPE%lld%lld", 0, 0);
    }
  }
  int c = accept(l, NULL, NULL);
  close(l);
  long long got = 0, sent = 0;
  int eof = 0;
  sleep_ms(300);   /* let the child send it all and shut down */
  for (long tick = 0;; tick++) {
    unsigned char buf[2000];
    if (got < TOTAL) {
      size_t want = TOTAL - got < 2000 ? (size_t)(TOTAL - got) : 2000;
      ssize_t n = recv(c, buf, want, MSG_WAITALL);
      if (n != (ssize_t)want) broken("parent: got %lld of %lld bytes", n, (long long)want);
      for (size_t k = 0; k < want; k++)
        if (buf[k] != stream_byte(1, got + (long long)k)) broken("parent: wrong byte at %lld%lld", got + (long long)k, 0);
      got += (long long)want;
    } else {
      ssize_t n = recv(c, buf, 1, MSG_DONTWAIT);
      if (n != 0) broken("parent: after %lld bytes, read gave %lld instead of EOF", got, n < 0 ? -errno : n);
      if (!eof) printf("eof after %lld\n", got);
      eof = 1;
    }
    unsigned char out[1000];
    for (int k = 0; k < 1000; k++) out[k] = stream_byte(2, sent + k);
    if (send(c, out, sizeof out, MSG_NOSIGNAL) != (ssize_t)sizeof out) broken("parent: send errno %lld%lld", errno, 0);
    sent += 1000;
    printf("tick %ld got=%lld\n", tick, got);
    sleep_ms(100);
  }
}
