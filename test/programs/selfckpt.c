/* Asks for its own checkpoint with stasis_checkpoint() and says how it came
 * back: "returned 0" in the same process, "returned 1" in a process restored
 * from the image (-1: no coordinator). The function is looked up at run time,
 * so the program also runs without stasis ("stasis absent").
 * Usage: selfckpt [TICKS]: prints "ready", waits for a line on stdin, asks
 * for the checkpoint, then prints "tick 0".."tick TICKS-1" every 100 ms and
 * "done", and exits 0. */
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv) {
  long ticks = argc > 1 ? atol(argv[1]) : 10;
  setvbuf(stdout, NULL, _IOLBF, 0);
  int (*ckpt)(void) = (int (*)(void))dlsym(RTLD_DEFAULT, "stasis_checkpoint");
  printf("ready %d\n", (int)getpid());
  char line[64];
  if (!fgets(line, sizeof line, stdin)) {
    printf("no go\n");
    return 3;
  }
  if (!ckpt) printf("stasis absent\n");
  else printf("returned %d\n", ckpt());
  for (long i = 0; i < ticks; i++) {
    printf("tick %ld\n", i);
    struct timespec ts = { 0, 100 * 1000000 };
    while (nanosleep(&ts, &ts) == -1 && errno == EINTR) {}
  }
  printf("done\n");
  return 0;
}
