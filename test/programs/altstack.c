/* Alternate signal stacks survive checkpoint/restart, per thread: the main
 * thread and a worker each have their own (the worker's with
 * SS_AUTODISARM). Every 100 ms each raises SIGUSR1 at itself; the
 * SA_ONSTACK handler checks that it runs on the alternate stack of the
 * thread that raised it, and each thread checks sigaltstack() still reports
 * its stack, size and flags. "tick N main=.. worker=.." or "BROKEN ...". */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#ifndef SS_AUTODISARM   /* linux/signal.h; not in glibc 2.36's headers */
#define SS_AUTODISARM (1U << 31)
#endif

#define ALT_SIZE (64 * 1024)
static char main_alt[ALT_SIZE], worker_alt[ALT_SIZE];
static __thread char *my_alt;
static __thread volatile int on_alt, handled;
static volatile long worker_count;

static void broken(const char *what) {
  printf("BROKEN %s\n", what);
  exit(1);
}

static void on_usr1(int sig) {
  (void)sig;
  char here;
  on_alt = &here >= my_alt && &here < my_alt + ALT_SIZE;
  handled++;
}

static void use_alt_stack(char *alt, int flags) {
  my_alt = alt;
  stack_t ss = { .ss_sp = alt, .ss_size = ALT_SIZE, .ss_flags = flags };
  if (sigaltstack(&ss, NULL) < 0) broken("sigaltstack");
}

/* One SIGUSR1 at this thread: handled once, on its alternate stack. */
static void check_once(const char *who, int flags) {
  stack_t now;
  sigaltstack(NULL, &now);
  if (now.ss_sp != my_alt || now.ss_size != ALT_SIZE || now.ss_flags != flags) {
    printf("BROKEN %s: sigaltstack says %p size %zu flags %d\n", who, now.ss_sp, now.ss_size, now.ss_flags);
    exit(1);
  }
  int before = handled;
  on_alt = 0;
  raise(SIGUSR1);
  if (handled != before + 1) broken("the handler did not run once");
  if (!on_alt) { printf("BROKEN %s: the handler ran off its alternate stack\n", who); exit(1); }
}

static void nap(void) {
  struct timespec ts = { 0, 100 * 1000000 };
  while (nanosleep(&ts, &ts) == -1 && errno == EINTR) {}
}

static void *worker(void *arg) {
  (void)arg;
  use_alt_stack(worker_alt, SS_AUTODISARM);
  for (;;) {
    check_once("worker", SS_AUTODISARM);
    worker_count++;
    nap();
  }
  return NULL;
}

int main(void) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_usr1;
  sa.sa_flags = SA_ONSTACK | SA_RESTART;
  sigaction(SIGUSR1, &sa, NULL);
  use_alt_stack(main_alt, 0);
  pthread_t th;
  pthread_create(&th, NULL, worker, NULL);
  long last_worker = -1;
  for (long tick = 1;; tick++) {
    check_once("main", 0);
    if (tick % 5 == 0) {
      if (worker_count == last_worker) broken("the worker stopped");
      last_worker = worker_count;
    }
    printf("tick %ld main=%d worker=%ld\n", tick, handled, worker_count);
    nap();
  }
}
