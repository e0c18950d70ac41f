/* glibc calls that hand a thread's tid to the kernel from inside libc
 * (pthread_getattr_np, which asks for the affinity too; pthread_getaffinity_np
 * and pthread_setaffinity_np), made by the main thread and by a second
 * thread about itself every tick: a JVM does so on every thread it
 * attaches. A failure prints BROKEN with the error. "tick N" every 100 ms. */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static void check(const char *who, long tick) {
  pthread_attr_t a;
  void *stack;
  size_t size;
  int rc = pthread_getattr_np(pthread_self(), &a);
  if (rc) { printf("BROKEN %s pthread_getattr_np at tick %ld: %s\n", who, tick, strerror(rc)); return; }
  if (pthread_attr_getstack(&a, &stack, &size) || !size || (char *)&a < (char *)stack || (char *)&a >= (char *)stack + size)
    printf("BROKEN %s: the stack %p + %zu does not hold %p\n", who, stack, size, (void *)&a);
  pthread_attr_destroy(&a);
  cpu_set_t set;
  if ((rc = pthread_getaffinity_np(pthread_self(), sizeof set, &set)) || !CPU_COUNT(&set))
    printf("BROKEN %s pthread_getaffinity_np at tick %ld: %s\n", who, tick, strerror(rc));
  else if ((rc = pthread_setaffinity_np(pthread_self(), sizeof set, &set)))
    printf("BROKEN %s pthread_setaffinity_np at tick %ld: %s\n", who, tick, strerror(rc));
}

static volatile long ticks;

static void *second(void *arg) {
  (void)arg;
  for (;;) {
    check("thread", ticks);
    usleep(50000);
  }
  return NULL;
}

int main(void) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  pthread_t t;
  pthread_create(&t, NULL, second, NULL);
  for (;; ticks++) {
    check("main", ticks);
    printf("tick %ld\n", ticks);
    struct timespec ts = { 0, 100000000 };
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR) {}
  }
}
