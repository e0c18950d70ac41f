/* The forked checkpoint's writer must be invisible to the program: every
 * 5 ms it checks that no SIGCHLD arrived and that waitpid(-1) and
 * waitid(P_ALL) see nothing but its own child (still running: "0"), or,
 * started with "alone", nothing at all (ECHILD); anything else prints
 * BROKEN. "tick N" every 20 checks. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t sigchld;
static void on_chld(int sig) { (void)sig; sigchld++; }

int main(int argc, char **argv) {
  int alone = argc > 1 && strcmp(argv[1], "alone") == 0;
  setvbuf(stdout, NULL, _IOLBF, 0);
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_chld;
  sigaction(SIGCHLD, &sa, NULL);
  if (!alone && fork() == 0) for (;;) pause();
  for (long n = 0;; n++) {
    if (sigchld) { printf("BROKEN a SIGCHLD arrived\n"); return 1; }
    int st;
    pid_t w = waitpid(-1, &st, WNOHANG);
    if (alone ? !(w < 0 && errno == ECHILD) : w != 0) {
      printf("BROKEN waitpid(-1) returned %d (%s)\n", (int)w, w < 0 ? strerror(errno) : "a child");
      return 1;
    }
    siginfo_t si;
    memset(&si, 0, sizeof si);
    int r = waitid(P_ALL, 0, &si, WEXITED | WNOHANG | WNOWAIT);
    if (alone ? !(r < 0 && errno == ECHILD) : (r != 0 || si.si_pid != 0)) {
      printf("BROKEN waitid(P_ALL) returned %d, pid %d\n", r, (int)si.si_pid);
      return 1;
    }
    if (n % 20 == 0) printf("tick %ld\n", n / 20);
    struct timespec ts = { 0, 5 * 1000000 };
    while (nanosleep(&ts, &ts) == -1 && errno == EINTR) {}
  }
}
