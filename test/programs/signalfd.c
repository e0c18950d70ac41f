/* signalfds (every thread blocks their signals):
 *  A  SIGUSR1, non-blocking, close-on-exec: a signal sent each tick is read
 *     back at once,
 *  B  SIGUSR2, blocking: a thread waits in read() and counts each one,
 *  C  SIGURG, never read: the SIGURG sent at start stays pending, readable.
 * Prints "tick N"; "BROKEN ..." when a signal is lost or a mask differs. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

static void broken(const char *m) { printf("BROKEN %s\n", m); fflush(stdout); }
static int b;
static volatile long got_b;

static void *waiter(void *arg) {
  (void)arg;
  for (;;) {
    struct signalfd_siginfo si;
    ssize_t r = read(b, &si, sizeof si);
    if (r < 0 && errno == EINTR) continue;
    if (r != sizeof si || si.ssi_signo != SIGUSR2) { broken("B read"); continue; }
    got_b++;
  }
  return NULL;
}

static unsigned long long fdinfo_mask(int fd) {
  char p[64], buf[1024];
  snprintf(p, sizeof p, "/proc/self/fdinfo/%d", fd);
  FILE *f = fopen(p, "r");
  if (!f) return 0;
  size_t n = fread(buf, 1, sizeof buf - 1, f);
  fclose(f);
  buf[n] = 0;
  char *m = strstr(buf, "sigmask:");
  return m ? strtoull(m + 8, NULL, 16) : 0;
}

int main(void) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  sigset_t all, sa, sb, sc;
  sigemptyset(&all); sigaddset(&all, SIGUSR1); sigaddset(&all, SIGUSR2); sigaddset(&all, SIGURG);
  sigprocmask(SIG_BLOCK, &all, NULL);
  sigemptyset(&sa); sigaddset(&sa, SIGUSR1);
  sigemptyset(&sb); sigaddset(&sb, SIGUSR2);
  sigemptyset(&sc); sigaddset(&sc, SIGURG);
  int a = signalfd(-1, &sa, SFD_NONBLOCK | SFD_CLOEXEC);
  b = signalfd(-1, &sb, 0);
  int c = signalfd(-1, &sc, SFD_NONBLOCK);
  if (a < 0 || b < 0 || c < 0) { perror("signalfd"); return 1; }
  kill(getpid(), SIGURG);
  pthread_t t;
  pthread_create(&t, NULL, waiter, NULL);
  char m[128];
  for (long tick = 0;; tick++) {
    kill(getpid(), SIGUSR1);
    struct signalfd_siginfo si;
    if (read(a, &si, sizeof si) != sizeof si || si.ssi_signo != SIGUSR1) broken("A lost SIGUSR1");
    if (read(a, &si, sizeof si) != -1 || errno != EAGAIN) broken("A not non-blocking, or a signal twice");
    long before = got_b;
    kill(getpid(), SIGUSR2);
    struct timespec ms = { 0, 1000000 };
    for (int i = 0; i < 200 && got_b == before; i++) nanosleep(&ms, NULL);
    if (got_b != before + 1) { snprintf(m, sizeof m, "B counted %ld, expected %ld", got_b, before + 1); broken(m); }
    sigset_t pend;
    sigpending(&pend);
    struct pollfd pf = { c, POLLIN, 0 };
    if (!sigismember(&pend, SIGURG) || poll(&pf, 1, 0) != 1) broken("C: the pending SIGURG is gone");
    if (fdinfo_mask(a) != 1ull << (SIGUSR1 - 1) || fdinfo_mask(b) != 1ull << (SIGUSR2 - 1) || fdinfo_mask(c) != 1ull << (SIGURG - 1)) broken("a mask changed");
    if (!(fcntl(a, F_GETFD) & FD_CLOEXEC) || (fcntl(b, F_GETFL) & O_NONBLOCK) || !(fcntl(c, F_GETFL) & O_NONBLOCK)) broken("flags changed");
    printf("tick %ld b=%ld\n", tick, got_b);
    struct timespec ts = { 0, 100000000 };
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR) {}
  }
}
