/* Interval timers survive checkpoint/restart with their intervals and time
 * left: ITIMER_REAL every 50 ms (SIGALRM), ITIMER_VIRTUAL every 20 ms of
 * user CPU time (SIGVTALRM), ITIMER_PROF every 30 ms of CPU time (SIGPROF).
 * The program spends ~30 ms of CPU per 100 ms tick. Each tick checks that
 * getitimer still gives each interval, and that in the last 5 ticks each
 * timer fired (REAL at least 5 times). "tick N real=.. virt=.. prof=.." or
 * "BROKEN ...". */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/time.h>
#include <time.h>

static volatile long fired[3];   /* ITIMER_REAL, ITIMER_VIRTUAL, ITIMER_PROF */
static const long interval_us[3] = { 50000, 20000, 30000 };
static const int min_in_5_ticks[3] = { 5, 1, 1 };

static void on_alrm(int sig) { (void)sig; fired[0]++; }
static void on_vtalrm(int sig) { (void)sig; fired[1]++; }
static void on_prof(int sig) { (void)sig; fired[2]++; }

static void spin_cpu(long ms) {
  struct timespec t0, t;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t0);
  do {
    for (volatile int i = 0; i < 100000; i++) {}   /* user time: ITIMER_VIRTUAL counts only that */
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  } while ((t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000 < ms);
}

int main(void) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  struct sigaction sa = { .sa_flags = SA_RESTART };
  sa.sa_handler = on_alrm; sigaction(SIGALRM, &sa, NULL);
  sa.sa_handler = on_vtalrm; sigaction(SIGVTALRM, &sa, NULL);
  sa.sa_handler = on_prof; sigaction(SIGPROF, &sa, NULL);
  for (int w = 0; w < 3; w++) {
    struct itimerval it = { { 0, interval_us[w] }, { 0, interval_us[w] } };
    setitimer(w, &it, NULL);
  }
  long hist[3][5] = { { 0 } };
  for (long tick = 1;; tick++) {
    spin_cpu(30);
    struct timespec ts = { 0, 70 * 1000000 };
    while (nanosleep(&ts, &ts) == -1 && errno == EINTR) {}
    long now[3] = { fired[0], fired[1], fired[2] };
    for (int w = 0; w < 3; w++) {
      struct itimerval it;
      getitimer(w, &it);
      if (it.it_interval.tv_sec != 0 || it.it_interval.tv_usec != interval_us[w]) {
        printf("BROKEN timer %d: interval %ld.%06ld s\n", w, (long)it.it_interval.tv_sec, (long)it.it_interval.tv_usec);
        return 1;
      }
      if (it.it_value.tv_sec == 0 && it.it_value.tv_usec == 0) { printf("BROKEN timer %d disarmed\n", w); return 1; }
      if (tick > 5 && now[w] - hist[w][tick % 5] < min_in_5_ticks[w]) {
        printf("BROKEN timer %d fired %ld times in 5 ticks\n", w, now[w] - hist[w][tick % 5]);
        return 1;
      }
      hist[w][tick % 5] = now[w];
    }
    printf("tick %ld real=%ld virt=%ld prof=%ld\n", tick, now[0], now[1], now[2]);
  }
}
