/* A thread that spends its time in dlsym (holding the dynamic loader's
 * lock), as a program starting up or loading plugins does: a checkpoint
 * stops it there. Prints "spins N" about every 100 ms. */
#include <dlfcn.h>
#include <stdio.h>
#include <time.h>

int main(void) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  struct timespec last, now;
  clock_gettime(CLOCK_MONOTONIC, &last);
  for (long n = 1;; n++) {
    if (!dlsym(RTLD_DEFAULT, "printf")) return 1;
    if ((n & 1023) == 0) {
      clock_gettime(CLOCK_MONOTONIC, &now);
      if ((now.tv_sec - last.tv_sec) * 1000 + (now.tv_nsec - last.tv_nsec) / 1000000 >= 100) {
        printf("spins %ld\n", n);
        last = now;
      }
    }
  }
}
