/* A parent with many children (argv[1], default 150): enough that the job's
 * pid table no longer fits a short line. Output:
 *   "child K start pid=P ppid=Q"  each child, once, as it starts
 *   "forked K P"                  the parent's view of child K's pid
 *   "ready N", then "tick T"      every 100 ms; at each tick the parent checks
 *                                 every child is still its child and alive
 *                                 (waitpid WNOHANG == 0, kill(pid, 0) == 0)
 * Each child checks every 100 ms that getpid() and getppid() are unchanged.
 * After tick argv[2] (default 40) the parent ends each child with SIGUSR1:
 * the child prints "child K end pid=P ppid=Q" and exits with status K % 250;
 * the parent's waitpid(pid) must return that pid and status: "reaped K".
 * Then "done". Any check that fails prints "BROKEN ...". */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t asked_to_end;
static void on_usr1(int sig) { (void)sig; asked_to_end = 1; }

static void nap(long ms) {
  struct timespec ts = { 0, ms * 1000000 };
  nanosleep(&ts, NULL);   /* SIGUSR1 cuts it short: the loop looks at the flag */
}

static void child(int k, pid_t parent) {
  pid_t self = getpid();
  printf("child %d start pid=%d ppid=%d\n", k, self, getppid());
  while (!asked_to_end) {
    if (getpid() != self) { printf("BROKEN child %d: getpid %d, was %d\n", k, getpid(), self); exit(1); }
    if (getppid() != parent) { printf("BROKEN child %d: getppid %d, want %d\n", k, getppid(), parent); exit(1); }
    nap(100);
  }
  printf("child %d end pid=%d ppid=%d\n", k, getpid(), getppid());
  exit(k % 250);
}

int main(int argc, char **argv) {
  int n = argc > 1 ? atoi(argv[1]) : 150, last_tick = argc > 2 ? atoi(argv[2]) : 40;
  setvbuf(stdout, NULL, _IOLBF, 0);
  struct sigaction sa = { .sa_handler = on_usr1 };
  sigaction(SIGUSR1, &sa, NULL);
  pid_t parent = getpid(), *kids = calloc(n, sizeof *kids);
  for (int k = 0; k < n; k++) {
    kids[k] = fork();
    if (kids[k] < 0) { printf("BROKEN fork %d: %s\n", k, strerror(errno)); return 1; }
    if (kids[k] == 0) child(k, parent);
    printf("forked %d %d\n", k, kids[k]);
  }
  printf("ready %d\n", n);
  for (int t = 1; t <= last_tick; t++) {
    nap(100);
    for (int k = 0; k < n; k++) {
      int status;
      pid_t w = waitpid(kids[k], &status, WNOHANG);
      if (w != 0) { printf("BROKEN tick %d: waitpid(%d) of child %d says %d (%s)\n", t, kids[k], k, w, w < 0 ? strerror(errno) : "it ended"); return 1; }
      if (kill(kids[k], 0) != 0) { printf("BROKEN tick %d: kill(%d, 0) of child %d: %s\n", t, kids[k], k, strerror(errno)); return 1; }
    }
    printf("tick %d\n", t);
  }
  for (int k = 0; k < n; k++) {
    if (kill(kids[k], SIGUSR1) != 0) { printf("BROKEN kill(%d, SIGUSR1) of child %d: %s\n", kids[k], k, strerror(errno)); return 1; }
    int status;
    pid_t w = waitpid(kids[k], &status, 0);
    if (w != kids[k]) { printf("BROKEN waitpid(%d) of child %d returned %d (%s)\n", kids[k], k, w, w < 0 ? strerror(errno) : ""); return 1; }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != k % 250) { printf("BROKEN child %d ended with status 0x%x\n", k, status); return 1; }
    printf("reaped %d\n", k);
  }
  printf("done\n");
  return 0;
}
