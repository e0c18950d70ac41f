/*
 * pid 1 of a test-cluster node's pid namespace (test/cluster/up.sh starts it
 * under `unshare --pid --fork`). It only reaps: the node's daemons, started
 * into the namespace afterwards, are re-parented to it when they daemonize,
 * and so is every orphan of an ssh session or job step. While it lives the
 * node lives; when it exits the kernel kills everything left in the node.
 *
 * SIGTERM (down.sh): pass SIGTERM to every process of the node, reap for up
 * to 3 s, then exit (taking whatever did not stop with it).
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t stopping;

static void on_term(int sig) { (void)sig; stopping = 1; }
static void on_chld(int sig) { (void)sig; } /* only to wake sigsuspend */

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

int main(void) {
  if (getpid() != 1) {
    fprintf(stderr, "node_init: must be pid 1 of a new pid namespace (unshare --pid --fork)\n");
    return 2;
  }
  /* SIGCHLD and SIGTERM stay blocked except inside sigsuspend: a child that
   * exits between our last waitpid and the sleep still wakes us. */
  sigset_t both, none;
  sigemptyset(&both);
  sigaddset(&both, SIGCHLD);
  sigaddset(&both, SIGTERM);
  sigemptyset(&none);
  sigprocmask(SIG_BLOCK, &both, NULL);
  struct sigaction sa = { .sa_handler = on_term };
  sigemptyset(&sa.sa_mask);
  sigaction(SIGTERM, &sa, NULL);
  sa.sa_handler = on_chld;
  sigaction(SIGCHLD, &sa, NULL);

  while (!stopping) {
    while (waitpid(-1, NULL, WNOHANG) > 0) {}
    if (!stopping) sigsuspend(&none);
  }
  kill(-1, SIGTERM); /* from pid 1: every other process of this namespace */
  double deadline = now() + 3;
  while (now() < deadline) {
    pid_t p = waitpid(-1, NULL, WNOHANG);
    if (p < 0 && errno == ECHILD) break;
    if (p == 0) usleep(20000);
  }
  return 0;
}
