/* Pids and tids stay what the program saw: every 100 ms it checks that
 * getpid() and a worker's gettid() are unchanged, signals itself with
 * kill(getpid()) and the worker with tgkill(), and forks a child that it
 * reaps with waitpid(child). Prints "pids N pid=P tid=T" or "BROKEN ...". */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t usr1, usr2;
static volatile pid_t worker_tid, worker_seen_tid;

static void on_usr1(int sig) { (void)sig; usr1++; }
static void on_usr2(int sig) { (void)sig; usr2++; worker_seen_tid = gettid(); }

static void nap(long ms) {
  struct timespec ts = { ms / 1000, ms % 1000 * 1000000 };
  while (nanosleep(&ts, &ts) == -1 && errno == EINTR) {}
}

static void *worker(void *arg) {
  (void)arg;
  sigset_t usr2_only;
  sigemptyset(&usr2_only);
  sigaddset(&usr2_only, SIGUSR2);
  pthread_sigmask(SIG_UNBLOCK, &usr2_only, NULL);   /* main blocks it, we take it */
  worker_tid = gettid();
  for (;;) nap(1000);
  return NULL;
}

int main(void) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  signal(SIGUSR1, on_usr1);
  signal(SIGUSR2, on_usr2);
  sigset_t usr2_only;
  sigemptyset(&usr2_only);
  sigaddset(&usr2_only, SIGUSR2);
  pthread_sigmask(SIG_BLOCK, &usr2_only, NULL);   /* only the worker takes SIGUSR2 */
  pthread_t t;
  pthread_create(&t, NULL, worker, NULL);
  while (!worker_tid) nap(1);
  const pid_t pid = getpid(), tid = worker_tid;
  for (long n = 1;; n++) {
    int before1 = usr1, before2 = usr2;
    if (getpid() != pid) { printf("BROKEN getpid %d != %d\n", getpid(), pid); return 1; }
    if (kill(getpid(), SIGUSR1) != 0 || usr1 != before1 + 1) { printf("BROKEN kill(getpid()) did not arrive\n"); return 1; }
    if (tgkill(getpid(), tid, SIGUSR2) != 0) { printf("BROKEN tgkill: %m\n"); return 1; }
    for (int i = 0; i < 200 && usr2 == before2; i++) nap(1);
    if (usr2 != before2 + 1 || worker_seen_tid != tid) { printf("BROKEN worker tid %d, signal %d\n", worker_seen_tid, usr2 - before2); return 1; }
    pid_t child = fork();
    if (child == 0) _exit(7);
    int status = 0;
    if (waitpid(child, &status, 0) != child || !WIFEXITED(status) || WEXITSTATUS(status) != 7) {
      printf("BROKEN waitpid(%d): %m\n", child);
      return 1;
    }
    printf("pids %ld pid=%d tid=%d\n", n, pid, tid);
    nap(100);
  }
}
