/* Many TCP connections between two processes (test/cluster/many.test.ts):
 *   tcp_many server ADDR N    listens on ADDR (port printed), accepts N
 *   tcp_many client ADDR PORT N   opens N connections to it
 * Every 20 ms the client writes the next number of each connection's
 * sequence (8 bytes) on every one; the server reads what came on each,
 * checks it is the sequence's next (BROKEN otherwise) and prints
 * "server got TOTAL" every 50 ticks. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

static void die(const char *what) {
  printf("BROKEN %s: %s\n", what, strerror(errno));
  fflush(stdout);
  exit(3);
}

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  int server = argc == 4 && strcmp(argv[1], "server") == 0, client = argc == 5 && strcmp(argv[1], "client") == 0;
  if (!server && !client) { fprintf(stderr, "usage: tcp_many server ADDR N | client ADDR PORT N\n"); return 2; }
  int n = atoi(argv[argc - 1]);
  struct rlimit rl = { (rlim_t)n + 64, (rlim_t)n + 64 };
  setrlimit(RLIMIT_NOFILE, &rl);
  int *fd = calloc((size_t)n, sizeof *fd);
  uint64_t *next = calloc((size_t)n, sizeof *next);
  struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(client ? (uint16_t)atoi(argv[3]) : 0) };
  if (inet_pton(AF_INET, argv[2], &a.sin_addr) != 1) die("address");
  if (server) {
    int l = socket(AF_INET, SOCK_STREAM, 0);
    socklen_t len = sizeof a;
    if (l < 0 || bind(l, (void *)&a, sizeof a) || listen(l, 128) || getsockname(l, (void *)&a, &len)) die("listen");
    printf("listening on %u\n", ntohs(a.sin_port));
    for (int k = 0; k < n; k++) {
      if ((fd[k] = accept(l, NULL, NULL)) < 0) die("accept");
      uint64_t id;
      if (read(fd[k], &id, sizeof id) != sizeof id || id >= (uint64_t)n) die("id");
      next[k] = id << 32;   /* the client's connection number: its sequence */
      fcntl(fd[k], F_SETFL, O_NONBLOCK);
    }
    close(l);
    printf("accepted %d\n", n);
  } else {
    for (int k = 0; k < n; k++) {
      uint64_t id = (uint64_t)k;
      if ((fd[k] = socket(AF_INET, SOCK_STREAM, 0)) < 0 || connect(fd[k], (void *)&a, sizeof a) || write(fd[k], &id, sizeof id) != sizeof id)
        die("connect");
      next[k] = id << 32;
    }
    printf("connected %d\n", n);
  }
  uint64_t total = 0;
  for (long tick = 1;; tick++) {
    usleep(20000);
    for (int k = 0; k < n; k++) {
      if (client) {
        if (write(fd[k], &next[k], sizeof next[k]) != sizeof next[k]) die("write");
        next[k]++;
        continue;
      }
      uint64_t v;
      int avail = 0;
      if (ioctl(fd[k], FIONREAD, &avail) < 0) die("FIONREAD");
      ssize_t r = -1;
      errno = EAGAIN;
      /* Whole numbers only: what a restart gives back may end mid-number. */
      for (; avail >= (int)sizeof v && (r = read(fd[k], &v, sizeof v)) == sizeof v; avail -= (int)sizeof v) {
        if (v != next[k]) { printf("BROKEN connection %d: got %llx, wanted %llx\n", k, (unsigned long long)v, (unsigned long long)next[k]); return 3; }
        next[k]++;
        total++;
      }
      if (r == 0) { errno = 0; die("peer closed"); }
      if (r >= 0 && r != sizeof v) { printf("BROKEN connection %d: a short read\n", k); return 3; }
      if (r < 0 && errno != EAGAIN) die("read");
    }
    if (server && tick % 50 == 0) printf("server got %llu\n", (unsigned long long)total);
  }
}
