/* UNIX sockets held by three processes, with data queued and nobody
 * reading: a datagram socket bound to PATH with 8 datagrams queued, a
 * stream socketpair with 100000 bytes queued one way and 50000 the other,
 * and a seqpacket socketpair with 20 messages queued; then two forked
 * children, so each socket has three holders. Prints "tick N" every 100 ms.
 * When the file GO exists the parent reads every queue (non-blocking) and
 * prints what it found: "read dgram 8 stream 100000 50000 seqpacket 20",
 * each item once and in order, or BROKEN.
 *   sock_shared_unix PATH GO */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define DGRAMS 8
#define SEQPACKETS 20

static unsigned char stream_byte(int way, size_t i) { return (unsigned char)((i * 131 + (size_t)way * 17) >> 3); }

static void broken(const char *what, long a) {
  printf("BROKEN %s %ld\n", what, a);
  exit(3);
}

static void put(int fd, const void *p, size_t n) {
  for (size_t off = 0; off < n;) {
    ssize_t w = write(fd, (const char *)p + off, n - off);
    if (w <= 0) broken("write", (long)off);
    off += (size_t)w;
  }
}

/* Every byte queued toward `fd`, checked, then nothing more. */
static size_t read_stream(int fd, int way) {
  unsigned char buf[4096];
  size_t got = 0;
  ssize_t n;
  while ((n = recv(fd, buf, sizeof buf, MSG_DONTWAIT)) > 0)
    for (ssize_t i = 0; i < n; i++, got++)
      if (buf[i] != stream_byte(way, got)) broken("stream byte", (long)got);
  if (n == 0 || errno != EAGAIN) broken("stream end", (long)got);
  return got;
}

/* Messages "TAG K ..." for K = 0, 1, ..., each once, then nothing more. */
static int read_messages(int fd, const char *tag) {
  char buf[8192], want[64];
  int k = 0;
  ssize_t n;
  while ((n = recv(fd, buf, sizeof buf - 1, MSG_DONTWAIT)) > 0) {
    buf[n] = 0;
    snprintf(want, sizeof want, "%s %d ", tag, k);
    if (strncmp(buf, want, strlen(want)) != 0) broken(tag, k);
    k++;
  }
  if (n == 0 || errno != EAGAIN) broken(tag, -k);
  return k;
}

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  if (argc != 3) { fprintf(stderr, "usage: sock_shared_unix PATH GO\n"); return 2; }
  struct sockaddr_un addr = { .sun_family = AF_UNIX };
  snprintf(addr.sun_path, sizeof addr.sun_path, "%s", argv[1]);
  unlink(addr.sun_path);
  int server = socket(AF_UNIX, SOCK_DGRAM, 0), sender = socket(AF_UNIX, SOCK_DGRAM, 0), st[2], sp[2];
  if (server < 0 || bind(server, (struct sockaddr *)&addr, sizeof addr) < 0) { perror("bind"); return 1; }
  if (socketpair(AF_UNIX, SOCK_STREAM, 0, st) < 0 || socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sp) < 0) { perror("socketpair"); return 1; }
  char msg[4096];
  for (int k = 0; k < DGRAMS; k++) {
    int n = snprintf(msg, sizeof msg, "dgram %d ", k);
    memset(msg + n, 'a' + k, (size_t)(100 * k));
    if (sendto(sender, msg, (size_t)n + (size_t)(100 * k), 0, (struct sockaddr *)&addr, sizeof addr) < 0) { perror("sendto"); return 1; }
  }
  close(sender);
  static unsigned char bytes[100000];
  for (size_t i = 0; i < sizeof bytes; i++) bytes[i] = stream_byte(1, i);
  put(st[1], bytes, sizeof bytes);   /* toward st[0] */
  for (size_t i = 0; i < 50000; i++) bytes[i] = stream_byte(2, i);
  put(st[0], bytes, 50000);          /* toward st[1] */
  for (int k = 0; k < SEQPACKETS; k++) {
    int n = snprintf(msg, sizeof msg, "seqpacket %d ", k);
    memset(msg + n, 'A' + k, (size_t)(150 * k));
    put(sp[1], msg, (size_t)n + (size_t)(150 * k));
  }
  int parent = 1;
  pid_t first = getpid();
  for (int i = 0; i < 2 && parent; i++) parent = fork() != 0;
  if (parent) printf("ready\n");
  for (long tick = 1;; tick++) {
    usleep(100000);
    if (!parent && getppid() != first) return 0;   /* the parent was killed: so are we */
    if (!parent) continue;
    printf("tick %ld\n", tick);
    if (access(argv[2], F_OK) == 0) {
      int d = read_messages(server, "dgram");
      size_t one = read_stream(st[0], 1), two = read_stream(st[1], 2);
      int s = read_messages(sp[0], "seqpacket");
      printf("read dgram %d stream %zu %zu seqpacket %d\n", d, one, two, s);
      unlink(argv[2]);
    }
  }
}
