/* timerfds that must keep time across a restart:
 *  P  CLOCK_MONOTONIC, every 100 ms, blocking: the main loop waits on it,
 *  L  CLOCK_MONOTONIC one-shot in an hour: the time left never grows,
 *  A  CLOCK_REALTIME absolute one-shot: its wall-clock deadline stays put,
 *  E  a 5 ms one-shot (non-blocking, close-on-exec) left expired and unread
 *     for 10 ticks: it stays readable with exactly 1 expiration.
 * Prints "tick N" per expiration read from P; "BROKEN ..." on any mismatch. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

static void broken(const char *m) { printf("BROKEN %s\n", m); fflush(stdout); }
static double secs(struct timespec t) { return t.tv_sec + t.tv_nsec / 1e9; }

int main(void) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  int p = timerfd_create(CLOCK_MONOTONIC, 0);
  int l = timerfd_create(CLOCK_MONOTONIC, 0);
  int a = timerfd_create(CLOCK_REALTIME, 0);
  int e = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
  if (p < 0 || l < 0 || a < 0 || e < 0) { perror("timerfd_create"); return 1; }
  struct itimerspec per = { { 0, 100000000 }, { 0, 100000000 } }, hour = { { 0, 0 }, { 3600, 0 } };
  struct itimerspec shot = { { 0, 0 }, { 0, 5000000 } };
  struct timespec now;
  clock_gettime(CLOCK_REALTIME, &now);
  struct itimerspec abs = { { 0, 0 }, { now.tv_sec + 7200, 0 } };
  double deadline = now.tv_sec + 7200;
  if (timerfd_settime(p, 0, &per, NULL) || timerfd_settime(l, 0, &hour, NULL) ||
      timerfd_settime(a, TFD_TIMER_ABSTIME, &abs, NULL) || timerfd_settime(e, 0, &shot, NULL)) { perror("settime"); return 1; }
  double l_left = 3600;
  char m[128];
  for (long tick = 0;;) {
    uint64_t n;
    ssize_t r = read(p, &n, sizeof n);
    if (r < 0 && errno == EINTR) continue;
    if (r != sizeof n || n < 1) { broken("P read failed"); continue; }
    struct itimerspec cur;
    if (timerfd_gettime(p, &cur) || secs(cur.it_interval) != 0.1 || secs(cur.it_value) > 0.1 + 1e-6) broken("P interval or value changed");
    if (timerfd_gettime(l, &cur) || secs(cur.it_value) <= 0 || secs(cur.it_value) > l_left + 1e-3) {
      snprintf(m, sizeof m, "L left %.3f s, was %.3f s", secs(cur.it_value), l_left);
      broken(m);
    }
    l_left = secs(cur.it_value);
    clock_gettime(CLOCK_REALTIME, &now);
    if (timerfd_gettime(a, &cur) || secs(cur.it_value) <= 0 || (secs(now) + secs(cur.it_value)) - deadline > 0.5 ||
        (secs(now) + secs(cur.it_value)) - deadline < -0.5) {
      snprintf(m, sizeof m, "A deadline moved by %.3f s", secs(now) + secs(cur.it_value) - deadline);
      broken(m);
    }
    struct pollfd pf = { e, POLLIN, 0 };
    if (poll(&pf, 1, 0) != 1) broken("E expired but not readable");
    if (tick % 10 == 9) {
      uint64_t k = 0;
      if (read(e, &k, sizeof k) != sizeof k || k != 1) { snprintf(m, sizeof m, "E gave %llu expirations, expected 1", (unsigned long long)k); broken(m); }
      if (read(e, &k, sizeof k) != -1 || errno != EAGAIN) broken("E not non-blocking");
      timerfd_settime(e, 0, &shot, NULL);
    }
    if (!(fcntl(e, F_GETFD) & FD_CLOEXEC) || (fcntl(p, F_GETFD) & FD_CLOEXEC)) broken("close-on-exec changed");
    printf("tick %ld expirations=%llu\n", tick++, (unsigned long long)n);
  }
}
