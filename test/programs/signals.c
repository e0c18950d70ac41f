/* Signal handlers survive checkpoint/restart: every 100 ms the program
 * raises SIGUSR1 (plain handler) and sends itself SIGUSR2 with a value
 * (SA_SIGINFO handler); SIGALRM comes from an interval timer. It prints
 * "handled N usr1=A usr2=B" and fails if a handler stops firing or the
 * SIGUSR2 payload is wrong. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t usr1, usr2, alrm, bad_value;

static void on_usr1(int sig) { (void)sig; usr1++; }
static void on_usr2(int sig, siginfo_t *si, void *uc) {
  (void)sig; (void)uc;
  if (si->si_value.sival_int != 4242) bad_value = 1;
  usr2++;
}
static void on_alrm(int sig) { (void)sig; alrm++; }

int main(void) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  signal(SIGUSR1, on_usr1);
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = on_usr2;
  sa.sa_flags = SA_SIGINFO | SA_RESTART;
  sigaction(SIGUSR2, &sa, NULL);
  signal(SIGALRM, on_alrm);
  struct itimerval it = { { 0, 200000 }, { 0, 200000 } };
  setitimer(ITIMER_REAL, &it, NULL);
  for (long n = 1;; n++) {
    int before1 = usr1, before2 = usr2;
    raise(SIGUSR1);
    union sigval v = { .sival_int = 4242 };
    sigqueue(getpid(), SIGUSR2, v);
    if (usr1 != before1 + 1 || usr2 != before2 + 1 || bad_value) {
      printf("BROKEN usr1=%d usr2=%d bad=%d\n", (int)usr1, (int)usr2, (int)bad_value);
      return 1;
    }
    printf("handled %ld usr1=%d usr2=%d alrm=%d\n", n, (int)usr1, (int)usr2, (int)alrm);
    struct timespec ts = { 0, 100 * 1000000 };
    while (nanosleep(&ts, &ts) == -1 && errno == EINTR) {}
  }
}
