/* A client of a server outside the job (argv[1]: its port on 127.0.0.1):
 * sends "N\n", wants "N\n" back ("reply N"), ten times a second. When the
 * connection fails (EOF, ECONNRESET, EPIPE) — as it must after a restart,
 * its peer being outside the job — it says "peer gone: WHY", connects
 * again and sends N again ("reconnected"). A wrong answer prints BROKEN. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static void sleep_ms(int ms) {
  struct timespec ts = { 0, ms * 1000000L };
  while (nanosleep(&ts, &ts) < 0 && errno == EINTR) {}
}

static int connect_to(int port) {
  for (;;) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((unsigned short)port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    if (fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof a) == 0) return fd;
    printf("cannot connect: %s\n", strerror(errno));
    if (fd >= 0) close(fd);
    sleep_ms(200);
  }
}

/* One request; 0, or -1 with a reason when the connection failed. */
static int ask(int fd, long n, const char **why) {
  char msg[32], got[32];
  int len = snprintf(msg, sizeof msg, "%ld\n", n), have = 0;
  if (send(fd, msg, (size_t)len, MSG_NOSIGNAL) != len) { *why = strerror(errno); return -1; }
  while (have < len) {
    ssize_t r = recv(fd, got + have, (size_t)(len - have), 0);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) { *why = r == 0 ? "EOF" : strerror(errno); return -1; }
    have += (int)r;
  }
  if (memcmp(got, msg, (size_t)len) != 0) { printf("BROKEN reply to %ld: %.*s\n", n, len, got); exit(3); }
  return 0;
}

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  int port = argc > 1 ? atoi(argv[1]) : 0;
  int fd = connect_to(port);
  for (long n = 1;; n++) {
    const char *why;
    while (ask(fd, n, &why) < 0) {
      printf("peer gone: %s\n", why);
      close(fd);
      fd = connect_to(port);
      printf("reconnected\n");
    }
    printf("reply %ld\n", n);
    sleep_ms(100);
  }
}
