/* pidfds: the parent holds a pidfd of its forked child (pidfd_open, plus a
 * dup and a non-blocking one). Every 100 ms it checks the child is alive
 * through it (poll: not readable), signals the child through it
 * (pidfd_send_signal), and the child counts the signals it gets. After
 * LIMIT ticks (argv[1], default: forever) the parent ends the child with
 * SIGTERM through the pidfd, sees the pidfd become readable and reaps the
 * child with waitid(P_PIDFD). Prints "tick N", "child got N", "reaped", or
 * "BROKEN ...". */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t got;
static void on_usr1(int sig) { (void)sig; got++; }

static void nap(long ms) {
  struct timespec ts = { 0, ms * 1000000 };
  while (nanosleep(&ts, &ts) == -1 && errno == EINTR) {}
}

static int readable(int fd) {
  struct pollfd p = { fd, POLLIN, 0 };
  return poll(&p, 1, 0) == 1 && (p.revents & POLLIN);
}

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  long limit = argc > 1 ? atol(argv[1]) : 0;
  signal(SIGUSR1, on_usr1);
  pid_t child = fork();
  if (child < 0) { perror("fork"); return 1; }
  if (child == 0) {
    for (sig_atomic_t seen = 0;;) {
      if (got != seen) { seen = got; printf("child got %d\n", (int)seen); }
      nap(20);
    }
  }
  int pfd = pidfd_open(child, 0), nb = pidfd_open(child, PIDFD_NONBLOCK);
  int copy = dup2(pfd, 40);
  if (pfd < 0 || nb < 0 || copy < 0) { perror("pidfd_open"); return 1; }
  for (long n = 1; !limit || n <= limit; n++) {
    if (readable(pfd) || readable(copy) || readable(nb)) { printf("BROKEN the pidfd says the child ended (tick %ld)\n", n); return 1; }
    if (!(fcntl(nb, F_GETFL) & O_NONBLOCK) || (fcntl(pfd, F_GETFL) & O_NONBLOCK)) { printf("BROKEN pidfd flags\n"); return 1; }
    siginfo_t none = { 0 };
    if (waitid(P_PIDFD, nb, &none, WEXITED | WNOHANG) != 0 || none.si_pid != 0) { printf("BROKEN waitid on the non-blocking pidfd\n"); return 1; }
    if (pidfd_send_signal(copy, SIGUSR1, NULL, 0) != 0) { printf("BROKEN pidfd_send_signal: %s\n", strerror(errno)); return 1; }
    printf("tick %ld\n", n);
    nap(100);
  }
  if (pidfd_send_signal(pfd, SIGTERM, NULL, 0) != 0) { printf("BROKEN pidfd_send_signal TERM\n"); return 1; }
  struct pollfd p = { pfd, POLLIN, 0 };
  if (poll(&p, 1, 5000) != 1) { printf("BROKEN the pidfd never became readable\n"); return 1; }
  siginfo_t si = { 0 };
  if (waitid(P_PIDFD, pfd, &si, WEXITED) != 0 || si.si_pid != child || si.si_code != CLD_KILLED || si.si_status != SIGTERM) {
    printf("BROKEN waitid: pid %d (want %d) code %d status %d\n", si.si_pid, child, si.si_code, si.si_status);
    return 1;
  }
  printf("reaped\n");
  return 0;
}
