/* A program blocked in a system call when the checkpoint comes:
 *   blocked read      — read() on stdin; echoes each line as "got LINE"
 *   blocked sleep S   — one nanosleep of S seconds (EINTR resumes with the
 *                       remaining time), then "slept" and a count
 *   blocked futex S   — main waits on a condition variable that a second
 *                       thread signals every S seconds: "woken N"        */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t c = PTHREAD_COND_INITIALIZER;
static long signalled;
static int period = 1;

static void sleep_for(time_t s) {
  struct timespec ts = { s, 0 };
  while (nanosleep(&ts, &ts) == -1 && errno == EINTR) {}
}

static void *signaller(void *arg) {
  (void)arg;
  for (;;) {
    sleep_for(period);
    pthread_mutex_lock(&m);
    signalled++;
    pthread_cond_signal(&c);
    pthread_mutex_unlock(&m);
  }
  return NULL;
}

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  const char *mode = argc > 1 ? argv[1] : "read";
  if (argc > 2) period = atoi(argv[2]);
  printf("started %s\n", mode);
  if (strcmp(mode, "read") == 0) {
    char line[256];
    while (fgets(line, sizeof line, stdin)) printf("got %s", line);
    printf("eof\n");
  } else if (strcmp(mode, "sleep") == 0) {
    for (long n = 1;; n++) { sleep_for(period); printf("slept %ld\n", n); }
  } else if (strcmp(mode, "futex") == 0) {
    pthread_t t;
    pthread_create(&t, NULL, signaller, NULL);
    long seen = 0;
    for (;;) {
      pthread_mutex_lock(&m);
      while (signalled == seen) pthread_cond_wait(&c, &m);
      seen = signalled;
      pthread_mutex_unlock(&m);
      printf("woken %ld\n", seen);
    }
  }
  return 0;
}
