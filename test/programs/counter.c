/* Single-threaded counter: prints "count N" every 50 ms. Started with
 * "counter START", it checks that every line continues from the last. */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <errno.h>

int main(int argc, char **argv) {
  long n = argc > 1 ? atol(argv[1]) : 0;
  setvbuf(stdout, NULL, _IOLBF, 0);
  for (;;) {
    printf("count %ld\n", n++);
    struct timespec ts = { 0, 50 * 1000000 };
    while (nanosleep(&ts, &ts) == -1 && errno == EINTR) {}
  }
}
