/* Ends that the program closes must end for their peers at once: a parent
 * writes "line N" into a pipe to its forked child every 50 ms and prints
 * "tick N"; at the line given as argv[1] (default 30) it closes its write
 * end and prints "closed". The child prints "eof" when its read returns 0
 * (a copy of the write end held anywhere else would hold that back). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv) {
  long close_at = argc > 1 ? atol(argv[1]) : 30;
  setvbuf(stdout, NULL, _IOLBF, 0);
  int p[2];
  if (pipe(p) < 0) { perror("pipe"); return 1; }
  if (fork() == 0) {
    close(p[1]);
    char buf[256];
    ssize_t n;
    while ((n = read(p[0], buf, sizeof buf)) != 0)
      if (n < 0 && errno != EINTR) { printf("BROKEN read: %s\n", strerror(errno)); return 1; }
    printf("eof\n");
    for (;;) pause();
  }
  close(p[0]);
  for (long n = 0;; n++) {
    if (n == close_at) { close(p[1]); printf("closed\n"); }
    if (n < close_at) {
      char line[32];
      int len = snprintf(line, sizeof line, "line %ld\n", n);
      if (write(p[1], line, (size_t)len) != len) { printf("BROKEN write\n"); return 1; }
    }
    printf("tick %ld\n", n);
    struct timespec ts = { 0, 50 * 1000000 };
    while (nanosleep(&ts, &ts) == -1 && errno == EINTR) {}
  }
}
