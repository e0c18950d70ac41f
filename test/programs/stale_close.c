/* Closes each pipe end twice, as bash does in a pipeline (the parent's
 * close_pipes, then execute_pipeline's own close). In a single-threaded
 * program the second close fails with EBADF and nothing else happens. The
 * checkpoint thread libstasis adds must not change that: a descriptor it
 * held while the program runs would be closed instead, and reused by the
 * program's next pipe while the checkpoint thread still reads or closes it.
 * Every iteration also sends a message through its pipe and checks it.
 * Runs for argv[1] seconds (default 10); prints "started", then the
 * iterations, the second closes that succeeded and the messages that came
 * back wrong. */
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv) {
  time_t end = time(NULL) + (argc > 1 ? atoi(argv[1]) : 10);
  long n = 0, stale = 0, garbled = 0;
  char msg[64], got[64];
  printf("started\n");
  fflush(stdout);
  for (; n % 256 || time(NULL) < end; n++) {
    int p[2];
    if (pipe(p) < 0) { perror("pipe"); return 1; }
    int len = snprintf(msg, sizeof msg, "message %ld", n);
    if (write(p[1], msg, len) != len) garbled++;
    close(p[1]);
    sched_yield();   /* bash does more between its two closes */
    if (close(p[1]) == 0) stale++;
    ssize_t r = read(p[0], got, sizeof got);
    if (r != len || memcmp(got, msg, len) != 0) garbled++;
    close(p[0]);
    sched_yield();
    if (close(p[0]) == 0) stale++;
  }
  printf("%ld iterations: %ld second closes succeeded, %ld messages garbled\n", n, stale, garbled);
  return stale || garbled;
}
