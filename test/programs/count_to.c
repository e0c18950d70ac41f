/* A job that ends: prints "count 0" .. "count N-1", one every 50 ms, then
 * "done" and exits 0. With a FILE argument it writes the lines there
 * (opened O_APPEND by the program itself: the job's own file, rolled back
 * to the checkpoint at a restart) instead of stdout. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv) {
  long n = argc > 1 ? atol(argv[1]) : 100;
  int fd = argc > 2 ? open(argv[2], O_WRONLY | O_APPEND | O_CREAT, 0644) : 1;
  if (fd < 0) { perror(argv[2]); return 2; }
  char line[64];
  for (long i = 0; i <= n; i++) {
    int len = i < n ? snprintf(line, sizeof line, "count %ld\n", i) : snprintf(line, sizeof line, "done\n");
    if (write(fd, line, (size_t)len) != len) { perror("write"); return 3; }
    struct timespec ts = { 0, 50 * 1000000 };
    while (i < n && nanosleep(&ts, &ts) == -1 && errno == EINTR) {}
  }
  return 0;
}
