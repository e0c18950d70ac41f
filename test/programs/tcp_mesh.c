/* Three processes on three hosts joined by TCP, each to each (test/cluster/
 * mesh.test.ts): a driver that starts two workers through ssh, then
 *   driver  listens; each worker connects to it;
 *   worker 2 listens too; worker 3 learns its address from the driver and
 *            connects to it.
 *   tcp_mesh driver ROUNDS BYTES MYADDR HOST2 HOST3 SSH [SSH-ARGS...]
 *            runs `SSH SSH-ARGS HOSTk <this program> worker k MYADDR PORT ROUNDS BYTES`
 *   tcp_mesh worker K ADDR PORT ROUNDS BYTES
 * Each round every process writes BYTES to each of its two peers (what
 * byte i of round r from a to b is, is known to all), pauses 50 ms with
 * the bytes in flight, then reads what its peers sent while finishing its
 * own writes (poll: no deadlock), checks every byte (BROKEN otherwise) and
 * prints a line with a running hash per peer. The driver prints its own
 * line, then one line of each worker (their stdout is the ssh command's),
 * so its output is the same every run. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

struct conn { int fd, peer; size_t sent, got; uint64_t hash; unsigned char *out; };

static int me, rounds;
static size_t bytes;

static void die(const char *what) {
  printf("BROKEN %d: %s: %s\n", me, what, strerror(errno));
  fflush(stdout);
  exit(3);
}

static unsigned char byte_of(int from, int to, int round, size_t i) {
  uint64_t x = ((uint64_t)(from * 16 + to) << 40) ^ ((uint64_t)round << 24) ^ i;
  x *= 0x9E3779B97F4A7C15ull;
  return (unsigned char)(x >> 56);
}

static uint64_t fnv(uint64_t h, const unsigned char *p, size_t n) {
  for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 0x100000001b3ULL;
  return h;
}

static void write_line(int fd, const char *s) {
  for (size_t off = 0, n = strlen(s); off < n;) {
    ssize_t w = write(fd, s + off, n - off);
    if (w <= 0) die("write line");
    off += (size_t)w;
  }
}

/* One line, byte by byte: nothing after it is read. */
static void read_line(int fd, char *buf, size_t cap) {
  size_t n = 0;
  for (;;) {
    char c;
    ssize_t r = read(fd, &c, 1);
    if (r <= 0) die("read line");
    if (c == '\n' || n + 1 >= cap) break;
    buf[n++] = c;
  }
  buf[n] = 0;
}

static int listen_any(int *port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = { .sin_family = AF_INET };
  socklen_t len = sizeof a;
  if (fd < 0 || bind(fd, (void *)&a, sizeof a) || listen(fd, 4) || getsockname(fd, (void *)&a, &len)) die("listen");
  *port = ntohs(a.sin_port);
  return fd;
}

static int connect_to(const char *addr, int port) {
  struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
  if (inet_pton(AF_INET, addr, &a.sin_addr) != 1) die("address");
  for (int tries = 0;; tries++) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) die("socket");
    if (connect(fd, (void *)&a, sizeof a) == 0) return fd;
    close(fd);
    if (tries > 100) die("connect");
    usleep(50000);
  }
}

/* One round with both peers: write, pause with the bytes in flight, then
 * read everything while writing the rest. */
static void round_with(struct conn *c, int n, int r) {
  static unsigned char in[1 << 16];
  for (int k = 0; k < n; k++) {
    for (size_t i = 0; i < bytes; i++) c[k].out[i] = byte_of(me, c[k].peer, r, i);
    c[k].sent = c[k].got = 0;
    ssize_t w = write(c[k].fd, c[k].out, bytes);
    if (w > 0) c[k].sent = (size_t)w;
    else if (errno != EAGAIN) die("write");
  }
  struct timespec pause = { 0, 50 * 1000 * 1000 };
  while (nanosleep(&pause, &pause) < 0 && errno == EINTR) {}
  for (;;) {
    struct pollfd p[2];
    int busy = 0;
    for (int k = 0; k < n; k++) {
      p[k] = (struct pollfd){ c[k].fd, (short)((c[k].got < bytes ? POLLIN : 0) | (c[k].sent < bytes ? POLLOUT : 0)), 0 };
      busy |= p[k].events != 0;
    }
    if (!busy) break;
    if (poll(p, (nfds_t)n, -1) < 0) { if (errno == EINTR) continue; die("poll"); }
    for (int k = 0; k < n; k++) {
      if ((p[k].revents & (POLLOUT | POLLERR)) && c[k].sent < bytes) {
        ssize_t w = write(c[k].fd, c[k].out + c[k].sent, bytes - c[k].sent);
        if (w > 0) c[k].sent += (size_t)w;
        else if (w < 0 && errno != EAGAIN && errno != EINTR) die("write");
      }
      if ((p[k].revents & (POLLIN | POLLHUP | POLLERR)) && c[k].got < bytes) {
        size_t want = bytes - c[k].got < sizeof in ? bytes - c[k].got : sizeof in;
        ssize_t got = read(c[k].fd, in, want);
        if (got == 0) { errno = 0; die("peer closed"); }
        if (got < 0) { if (errno == EAGAIN || errno == EINTR) continue; die("read"); }
        for (ssize_t i = 0; i < got; i++)
          if (in[i] != byte_of(c[k].peer, me, r, c[k].got + (size_t)i)) {
            printf("BROKEN %d: round %d byte %zu from %d\n", me, r, c[k].got + (size_t)i, c[k].peer);
            fflush(stdout);
            exit(3);
          }
        c[k].hash = fnv(c[k].hash, in, (size_t)got);
        c[k].got += (size_t)got;
      }
    }
  }
}

static void run_rounds(struct conn *c, FILE **lines) {
  for (int k = 0; k < 2; k++) {
    fcntl(c[k].fd, F_SETFL, fcntl(c[k].fd, F_GETFL) | O_NONBLOCK);
    c[k].out = malloc(bytes);
    c[k].hash = 0xcbf29ce484222325ULL;
  }
  char line[256];
  for (int r = 1; r <= rounds; r++) {
    round_with(c, 2, r);
    printf("round %d at %d: from %d %016llx, from %d %016llx\n", r, me, c[0].peer, (unsigned long long)c[0].hash,
           c[1].peer, (unsigned long long)c[1].hash);
    for (int k = 0; lines && k < 2; k++) {
      if (!fgets(line, sizeof line, lines[k])) { printf("BROKEN no line of worker %d in round %d\n", k + 2, r); exit(3); }
      fputs(line, stdout);
    }
    fflush(stdout);
  }
}

static FILE *start_worker(char **ssh, const char *host, const char *self, int k, const char *addr, int port, pid_t *pid) {
  int out[2];
  if (pipe(out)) die("pipe");
  char sk[8], sport[16], srounds[16], sbytes[32];
  snprintf(sk, sizeof sk, "%d", k);
  snprintf(sport, sizeof sport, "%d", port);
  snprintf(srounds, sizeof srounds, "%d", rounds);
  snprintf(sbytes, sizeof sbytes, "%zu", bytes);
  int n = 0;
  while (ssh[n]) n++;
  char **argv = calloc((size_t)n + 9, sizeof *argv);
  memcpy(argv, ssh, (size_t)n * sizeof *argv);
  const char *tail[] = { host, self, "worker", sk, addr, sport, srounds, sbytes, NULL };
  memcpy(argv + n, tail, sizeof tail);
  *pid = fork();
  if (*pid == 0) {
    int null = open("/dev/null", O_RDONLY);
    dup2(null, 0);
    dup2(out[1], 1);
    close(null); close(out[0]); close(out[1]);
    execvp(argv[0], argv);
    perror(argv[0]);
    _exit(127);
  }
  close(out[1]);
  free(argv);
  return fdopen(out[0], "r");
}

static int driver(int argc, char **argv) {
  if (argc < 8) { fprintf(stderr, "usage: tcp_mesh driver ROUNDS BYTES MYADDR HOST2 HOST3 SSH [ARGS...]\n"); return 2; }
  me = 1;
  rounds = atoi(argv[2]);
  bytes = (size_t)atol(argv[3]);
  char self[4096];
  ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
  if (n <= 0) die("readlink");
  self[n] = 0;
  int port, lfd = listen_any(&port);
  pid_t pids[2];
  FILE *lines[2];
  for (int k = 0; k < 2; k++) lines[k] = start_worker(argv + 7, argv[5 + k], self, k + 2, argv[4], port, &pids[k]);
  struct conn c[2] = { { .fd = -1, .peer = 2 }, { .fd = -1, .peer = 3 } };
  char line[128], peer_line[128] = "";
  for (int i = 0; i < 2; i++) {
    struct sockaddr_in a;
    socklen_t len = sizeof a;
    int fd = accept(lfd, (void *)&a, &len);
    if (fd < 0) die("accept");
    int k, wport;
    read_line(fd, line, sizeof line);
    if (sscanf(line, "HELLO %d %d", &k, &wport) != 2 || (k != 2 && k != 3)) { printf("BROKEN hello '%s'\n", line); return 3; }
    c[k - 2].fd = fd;
    if (k == 2) snprintf(peer_line, sizeof peer_line, "PEER %s %d\n", inet_ntoa(a.sin_addr), wport);
  }
  close(lfd);
  write_line(c[1].fd, peer_line);
  read_line(c[1].fd, line, sizeof line);   /* worker 3 is connected to worker 2 */
  run_rounds(c, lines);
  for (int k = 0; k < 2; k++) {
    while (fgets(line, sizeof line, lines[k])) fputs(line, stdout);
    int status;
    waitpid(pids[k], &status, 0);
    printf("worker %d exit %d\n", k + 2, WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
  }
  return 0;
}

static int worker(int argc, char **argv) {
  if (argc != 7) { fprintf(stderr, "usage: tcp_mesh worker K ADDR PORT ROUNDS BYTES\n"); return 2; }
  me = atoi(argv[2]);
  rounds = atoi(argv[5]);
  bytes = (size_t)atol(argv[6]);
  int lport = 0, lfd = me == 2 ? listen_any(&lport) : -1;
  struct conn c[2] = { { .fd = connect_to(argv[3], atoi(argv[4])), .peer = 1 }, { .fd = -1, .peer = me == 2 ? 3 : 2 } };
  char line[128];
  snprintf(line, sizeof line, "HELLO %d %d\n", me, lport);
  write_line(c[0].fd, line);
  if (me == 2) {
    c[1].fd = accept(lfd, NULL, NULL);
    if (c[1].fd < 0) die("accept");
    close(lfd);
  } else {
    char addr[64];
    int port;
    read_line(c[0].fd, line, sizeof line);
    if (sscanf(line, "PEER %63s %d", addr, &port) != 2) { printf("BROKEN peer '%s'\n", line); return 3; }
    c[1].fd = connect_to(addr, port);
    write_line(c[0].fd, "CONNECTED\n");
  }
  run_rounds(c, NULL);
  printf("end at %d: from %d %016llx, from %d %016llx\n", me, c[0].peer, (unsigned long long)c[0].hash, c[1].peer,
         (unsigned long long)c[1].hash);
  fprintf(stderr, "worker %d: done\n", me);
  return 7;
}

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  if (argc > 1 && strcmp(argv[1], "driver") == 0) return driver(argc, argv);
  if (argc > 1 && strcmp(argv[1], "worker") == 0) return worker(argc, argv);
  fprintf(stderr, "usage: tcp_mesh driver|worker ...\n");
  return 2;
}
