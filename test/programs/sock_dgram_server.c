/* A UNIX datagram server bound to a name (argv[1] "abstract" or a path),
 * never connected, as UCX's shared-memory transports keep one: two forked
 * clients send it numbered datagrams every 2 ms — one with sendto() on an
 * unconnected socket, one connected to the server's name with send() —
 * and the server checks each client's numbers come one after the other
 * (none lost, doubled or reordered). It reads slowly, so its queue is full
 * (net.unix.max_dgram_qlen datagrams, 10 by default) at every checkpoint.
 * Prints "tick N got A B" every 100 ms;
 * "BROKEN ..." on a gap. */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static struct sockaddr_un addr = { .sun_family = AF_UNIX };
static socklen_t addr_len;

static void client(int id) {
  int s = socket(AF_UNIX, SOCK_DGRAM, 0);
  for (int tries = 0; id == 2 && connect(s, (struct sockaddr *)&addr, addr_len) < 0; tries++) {
    if (tries == 1000) { perror("connect"); exit(1); }
    usleep(1000);   /* the server binds after forking us */
  }
  for (long seq = 1;; seq++) {
    char msg[64];
    int n = snprintf(msg, sizeof msg, "%d %ld", id, seq);
    for (;;) {
      ssize_t w = id == 2 ? send(s, msg, (size_t)n, 0) : sendto(s, msg, (size_t)n, 0, (struct sockaddr *)&addr, addr_len);
      if (w == n) break;
      if (w < 0 && (errno == EINTR || errno == EAGAIN || errno == ENOBUFS)) { usleep(1000); continue; }
      if (w < 0 && seq == 1 && (errno == ECONNREFUSED || errno == ENOENT)) { usleep(1000); continue; }   /* not bound yet */
      if (w < 0 && (errno == ECONNREFUSED || errno == ENOENT)) exit(0);   /* the server is gone (the job is being killed) */
      printf("BROKEN client %d: send: %s\n", id, strerror(errno));
      exit(1);
    }
    usleep(2000);
  }
}

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  if (argc > 1 && strcmp(argv[1], "abstract") == 0) {
    int n = snprintf(addr.sun_path + 1, sizeof addr.sun_path - 1, "stasis-dgram-%d", getpid());
    addr_len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + (size_t)n);
  } else {
    snprintf(addr.sun_path, sizeof addr.sun_path, "%s", argc > 1 ? argv[1] : "dgram.sock");
    unlink(addr.sun_path);
    addr_len = sizeof addr;
  }
  /* The clients first: the server's socket is its own, as each UCX rank's
   * is (a socket several processes hold is copied by each of them). */
  for (int id = 1; id <= 2; id++)
    if (fork() == 0) client(id);
  int s = socket(AF_UNIX, SOCK_DGRAM, 0);
  if (s < 0 || bind(s, (struct sockaddr *)&addr, addr_len) < 0) { perror("bind"); return 1; }
  long last[3] = { 0, 0, 0 };
  struct timespec t0;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  for (long tick = 0;;) {
    char msg[64];
    ssize_t n = recv(s, msg, sizeof msg - 1, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) { printf("BROKEN recv: %s\n", strerror(errno)); return 1; }
    msg[n] = 0;
    int id;
    long seq;
    if (sscanf(msg, "%d %ld", &id, &seq) != 2 || id < 1 || id > 2) { printf("BROKEN datagram '%s'\n", msg); continue; }
    if (seq != last[id] + 1) printf("BROKEN client %d: %ld after %ld\n", id, seq, last[id]);
    last[id] = seq;
    usleep(2500);   /* slower than the two clients together: the queue fills */
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    if ((now.tv_sec - t0.tv_sec) * 1000 + (now.tv_nsec - t0.tv_nsec) / 1000000 >= 100 * (tick + 1))
      printf("tick %ld got %ld %ld\n", ++tick, last[1], last[2]);
  }
}
