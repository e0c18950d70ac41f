/* A process tree: the parent forks two children that run their own loops.
 * Every 100 ms the parent checks that both are still its children
 * (waitpid(child, WNOHANG) == 0, not ECHILD) and alive (kill(child, 0)); each
 * child checks that getppid() is still the parent. Output: "tree N" from the
 * parent, "child K N" from each child, or "BROKEN ...". */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void nap(long ms) {
  struct timespec ts = { 0, ms * 1000000 };
  while (nanosleep(&ts, &ts) == -1 && errno == EINTR) {}
}

static void child_loop(int k, pid_t parent) {
  for (long n = 1;; n++) {
    if (getppid() != parent) { printf("BROKEN child %d: parent %d, want %d\n", k, getppid(), parent); exit(1); }
    printf("child %d %ld\n", k, n);
    nap(100);
  }
}

int main(void) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  pid_t parent = getpid(), children[2];
  for (int k = 0; k < 2; k++) {
    children[k] = fork();
    if (children[k] < 0) { perror("fork"); return 1; }
    if (children[k] == 0) child_loop(k, parent);
  }
  for (long n = 1;; n++) {
    for (int k = 0; k < 2; k++) {
      int status;
      pid_t w = waitpid(children[k], &status, WNOHANG);
      if (w != 0) { printf("BROKEN child %d (%d): waitpid says %d (%s)\n", k, children[k], w, w < 0 ? "not my child" : "it ended"); return 1; }
      if (kill(children[k], 0) != 0) { printf("BROKEN child %d (%d) is gone\n", k, children[k]); return 1; }
    }
    printf("tree %ld\n", n);
    nap(100);
  }
}
