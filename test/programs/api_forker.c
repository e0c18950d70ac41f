/* A parent and its forked child, both ticking every 100 ms ("parent N",
 * "child N"), for plugins that must follow both. Prints "ready PARENT
 * CHILD" once both run. Usage: api_forker */
#include <errno.h>
#include <stdio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void tick_forever(const char *who) {
  for (long i = 0;; i++) {
    printf("%s %ld\n", who, i);
    struct timespec ts = { 0, 100 * 1000000 };
    while (nanosleep(&ts, &ts) == -1 && errno == EINTR) {}
  }
}

int main(void) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  pid_t child = fork();
  if (child < 0) return 1;
  if (child == 0) tick_forever("child");
  printf("ready %d %d\n", (int)getpid(), (int)child);
  tick_forever("parent");
}
