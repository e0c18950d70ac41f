/* POSIX timers survive checkpoint/restart with their ids, clocks, signals,
 * values, intervals and time left:
 *   A  CLOCK_MONOTONIC, every 50 ms, SIGRTMIN+4 with value 111 to the process
 *      (handler);
 *   B  CLOCK_REALTIME, every 30 ms, SIGRTMIN+5 with value 222 to the worker
 *      thread alone (SIGEV_THREAD_ID), taken there with sigwaitinfo;
 *   C  CLOCK_MONOTONIC one-shot, an hour: its time left only goes down;
 *   D  SIGEV_NONE, every 10 ms, never signals: its interval stays;
 * With the argument "sigev-thread", also
 *   F  SIGEV_THREAD, every 40 ms: glibc runs a function in a new thread
 *      (stasis refuses to checkpoint such a process).
 * A timer created and deleted first leaves a gap in the ids. Every 100 ms
 * "tick N a=.. b=.. f=.." — each of A, B (F) must have fired at least 3 times
 * in the last 5 ticks, each signal with its timer's id and value, and
 * timer_gettime must accept every id with the interval it was given. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static timer_t ta, tb, tc, td, tf;
static volatile long fired_a, fired_b, fired_f;
static volatile int bad_a;
static char bad_b[200];
static volatile pid_t worker_tid;

static void broken(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  printf("BROKEN ");
  vprintf(fmt, ap);
  printf("\n");
  va_end(ap);
  exit(1);
}

static void on_a(int sig, siginfo_t *si, void *uc) {
  (void)sig; (void)uc;
  if (si->si_code != SI_TIMER || si->si_value.sival_int != 111 || si->si_timerid != (int)(long)ta) bad_a = 1;
  fired_a++;
}

static void on_f(union sigval v) {
  if (v.sival_int != 333) broken("SIGEV_THREAD value %d", v.sival_int);
  __atomic_add_fetch(&fired_f, 1, __ATOMIC_SEQ_CST);
}

static void *worker(void *arg) {
  (void)arg;
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGRTMIN + 5);
  worker_tid = gettid();
  for (;;) {
    siginfo_t si;
    if (sigwaitinfo(&set, &si) < 0) continue;   /* EINTR */
    if (si.si_code != SI_TIMER || si.si_value.sival_int != 222 || si.si_timerid != (int)(long)tb)
      snprintf(bad_b, sizeof bad_b, "B: code %d value %d timer %d", si.si_code, si.si_value.sival_int, si.si_timerid);
    fired_b++;
  }
  return NULL;
}

static timer_t make(clockid_t clock, struct sigevent *ev, long interval_ns, long first_ns) {
  timer_t t;
  if (timer_create(clock, ev, &t) < 0) broken("timer_create: %s", strerror(errno));
  struct itimerspec its = { { interval_ns / 1000000000, interval_ns % 1000000000 },
                            { first_ns / 1000000000, first_ns % 1000000000 } };
  if (timer_settime(t, 0, &its, NULL) < 0) broken("timer_settime: %s", strerror(errno));
  return t;
}

static void expect_interval(const char *name, timer_t t, long ns, struct itimerspec *now) {
  if (timer_gettime(t, now) < 0) broken("timer %s (id %ld): timer_gettime: %s", name, (long)t, strerror(errno));
  long got = now->it_interval.tv_sec * 1000000000L + now->it_interval.tv_nsec;
  if (got != ns) broken("timer %s: interval %ld ns, want %ld", name, got, ns);
}

int main(int argc, char **argv) {
  int with_f = argc > 1 && strcmp(argv[1], "sigev-thread") == 0;
  setvbuf(stdout, NULL, _IOLBF, 0);
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGRTMIN + 5);
  pthread_sigmask(SIG_BLOCK, &set, NULL);
  pthread_t th;
  pthread_create(&th, NULL, worker, NULL);
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = on_a;
  sa.sa_flags = SA_SIGINFO | SA_RESTART;
  sigaction(SIGRTMIN + 4, &sa, NULL);

  timer_t gap;
  struct sigevent none = { .sigev_notify = SIGEV_NONE };
  timer_create(CLOCK_MONOTONIC, &none, &gap);
  struct sigevent ea = { .sigev_notify = SIGEV_SIGNAL, .sigev_signo = SIGRTMIN + 4, .sigev_value.sival_int = 111 };
  ta = make(CLOCK_MONOTONIC, &ea, 50000000, 50000000);
  timer_delete(gap);
  struct sigevent eb = { .sigev_notify = SIGEV_THREAD_ID, .sigev_signo = SIGRTMIN + 5, .sigev_value.sival_int = 222 };
  while (!worker_tid) usleep(1000);
  eb._sigev_un._tid = worker_tid;   /* the tid the program knows */
  tb = make(CLOCK_REALTIME, &eb, 30000000, 30000000);
  tc = make(CLOCK_MONOTONIC, &none, 0, 3600L * 1000000000L);
  td = make(CLOCK_MONOTONIC, &none, 10000000, 10000000);
  struct sigevent ef = { .sigev_notify = SIGEV_THREAD, .sigev_notify_function = on_f, .sigev_value.sival_int = 333 };
  if (with_f) tf = make(CLOCK_MONOTONIC, &ef, 40000000, 40000000);
  printf("timers a=%ld b=%ld c=%ld d=%ld f=%#lx (gap %ld)\n", (long)ta, (long)tb, (long)tc, (long)td, (long)tf, (long)gap);

  long hist[3][5] = { { 0 } };
  long c_left = 3600L * 1000000000L;
  for (long tick = 1;; tick++) {
    struct timespec ts = { 0, 100 * 1000000 };
    while (nanosleep(&ts, &ts) == -1 && errno == EINTR) {}
    if (bad_a) broken("A: a signal with the wrong code, value or timer id");
    if (bad_b[0]) broken("%s", bad_b);
    struct itimerspec now;
    expect_interval("A", ta, 50000000, &now);
    expect_interval("B", tb, 30000000, &now);
    expect_interval("D", td, 10000000, &now);
    if (with_f) expect_interval("F", tf, 40000000, &now);
    expect_interval("C", tc, 0, &now);
    long left = now.it_value.tv_sec * 1000000000L + now.it_value.tv_nsec;
    if (left <= 0 || left > c_left) broken("C: %ld ns left, before %ld", left, c_left);
    c_left = left;
    long counts[3] = { fired_a, fired_b, fired_f };
    for (int k = 0; k < 2 + with_f; k++) {
      if (tick > 5 && counts[k] - hist[k][tick % 5] < 3)
        broken("timer %c fired %ld times in 5 ticks", "abf"[k], counts[k] - hist[k][tick % 5]);
      hist[k][tick % 5] = counts[k];
    }
    printf("tick %ld a=%ld b=%ld f=%ld c_left=%lds\n", tick, counts[0], counts[1], counts[2], left / 1000000000L);
  }
}
