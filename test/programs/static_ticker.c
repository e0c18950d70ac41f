/* Statically linked (native/Makefile builds static_* with -static): the
 * dynamic loader never runs, so libstasis cannot enter it. Prints
 * "static N" every 100 ms, forever. */
#include <stdio.h>
#include <time.h>

int main(void) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  for (long n = 1;; n++) {
    printf("static %ld\n", n);
    struct timespec ts = { 0, 100 * 1000000 };
    nanosleep(&ts, NULL);
  }
}
