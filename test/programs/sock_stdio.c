/* A child whose stdin and stdout are one end of a socketpair (as a
 * supervisor or `socat` hands them): it execs `cat`, and the parent sends
 * numbered 64-byte lines through the other end, AHEAD lines ahead of what
 * it reads back, so lines are in flight at every checkpoint. Each line must
 * come back once and in order ("tick N" every 100 ms; BROKEN otherwise).
 * AHEAD is small enough that the lines in flight fit in one direction's
 * send buffer even when each is a packet of its own (about 700 bytes of
 * the kernel's 212992 each): with 1000 lines of 15 bytes both ends could
 * block writing at once, each queue full of one-line packets (846 lines
 * fitted), with or without a checkpoint — stopping and resuming the two
 * made it likely. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static FILE *in;

#define AHEAD 200
#define LINE 64

/* "line N ..." padded to LINE bytes with its newline. */
static int line_of(long n, char *out) {
  int len = snprintf(out, LINE, "line %09ld ", n);
  memset(out + len, 'x', LINE - 1 - (size_t)len);
  out[LINE - 1] = '\n';
  out[LINE] = 0;
  return LINE;
}

static void put(int fd, long n) {
  char line[LINE + 1];
  int len = line_of(n, line);
  if (write(fd, line, (size_t)len) != len) { printf("BROKEN write %ld\n", n); exit(3); }
}

int main(void) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0) { perror("socketpair"); return 1; }
  if (fork() == 0) {
    dup2(sv[1], 0);
    dup2(sv[1], 1);
    close(sv[0]);
    close(sv[1]);
    execlp("cat", "cat", (char *)NULL);
    _exit(127);
  }
  close(sv[1]);
  in = fdopen(sv[0], "r");
  long sent = 0, got = 0;
  for (; sent < AHEAD; sent++) put(sv[0], sent);
  for (long tick = 0;; tick++) {
    for (int k = 0; k < 10; k++) {
      char line[2 * LINE], want[LINE + 1];
      if (!fgets(line, sizeof line, in)) { usleep(500000); printf("BROKEN EOF after %ld\n", got); return 3; }
      line_of(got, want);
      if (strcmp(line, want) != 0) { usleep(500000); printf("BROKEN got %s wanted %s", line, want); return 3; }
      got++;
      put(sv[0], sent++);
    }
    printf("tick %ld got=%ld\n", tick, got);
    struct timespec ts = { 0, 100000000 };
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR) {}
  }
}
