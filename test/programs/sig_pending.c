/* Pending signals survive checkpoint/restart, exactly once, in order, with
 * their payloads. Every 100 ms ("tick N") the main thread takes what it
 * sent at the previous tick and checks it, then sends a new batch that stays
 * pending (blocked) until the next tick — so a checkpoint almost always
 * finds a batch pending:
 *   for the process: SIGRTMIN+3 twice, SIGRTMIN+1 five times (sigqueue,
 *   values N*100+k), SIGUSR1 (kill);
 *   for the worker thread alone: SIGRTMIN+2 three times (pthread_sigqueue),
 *   SIGHUP (pthread_kill).
 * Each is taken with sigtimedwait and must come in the kernel's order
 * (lowest number first, a real-time signal's instances first in, first out)
 * with its si_code, value and sender, and nothing more. Prints "BROKEN ..."
 * and exits 1 otherwise. */
#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

struct want { int sig, code, value; };

static pthread_t worker;
static sem_t go, done;
static long batch;           /* the batch the worker checks */
static char worker_error[256];
static int tkill_code = 1;   /* si_code of pthread_kill, as this kernel sets it (batch 1) */

static void broken(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  printf("BROKEN ");
  vprintf(fmt, ap);
  printf("\n");
  va_end(ap);
  exit(1);
}

static void never(int sig) { broken("signal %d was delivered to a handler while blocked", sig); }

static int sender_ok(pid_t pid) {
  /* The pid the program knows (getpid), or — for a signal sent since the
   * last restart — the kernel's (a fresh signal's si_pid is not translated). */
  return pid == getpid() || pid == (pid_t)syscall(SYS_getpid);
}

/* Takes every signal of `want`'s numbers now pending; 0 if exactly `want`. */
static int take_and_check(const struct want *want, int n, long b, char *err, size_t cap) {
  sigset_t set;
  sigemptyset(&set);
  for (int i = 0; i < n; i++) sigaddset(&set, want[i].sig);
  struct timespec now = { 0, 0 };
  for (int i = 0;; i++) {
    siginfo_t si;
    int sig = sigtimedwait(&set, &si, &now);
    if (sig < 0) {
      if (errno != EAGAIN) { snprintf(err, cap, "sigtimedwait: %s", strerror(errno)); return -1; }
      if (i == n) return 0;
      snprintf(err, cap, "batch %ld: only %d of %d signals, next missing: %d value %d", b, i, n, want[i].sig, want[i].value);
      return -1;
    }
    if (i == n) { snprintf(err, cap, "batch %ld: extra signal %d value %d", b, sig, si.si_value.sival_int); return -1; }
    struct want *w = (struct want *)&want[i];
    if (w->code == 1) w->code = tkill_code = si.si_code;   /* first batch: learn it */
    int value_ok = w->code != SI_QUEUE || si.si_value.sival_int == w->value;
    if (sig != w->sig || si.si_code != w->code || !value_ok || !sender_ok(si.si_pid)) {
      snprintf(err, cap, "batch %ld #%d: got signal %d code %d value %d pid %d, want %d code %d value %d pid %d",
               b, i, sig, si.si_code, si.si_value.sival_int, si.si_pid, w->sig, w->code, w->value, getpid());
      return -1;
    }
  }
}

static int process_wants(long b, struct want *w) {
  int n = 0;
  w[n++] = (struct want){ SIGUSR1, SI_USER, 0 };
  for (int k = 0; k < 5; k++) w[n++] = (struct want){ SIGRTMIN + 1, SI_QUEUE, (int)(b * 100 + k) };
  for (int k = 0; k < 2; k++) w[n++] = (struct want){ SIGRTMIN + 3, SI_QUEUE, (int)(b * 100 + 10 + k) };
  return n;
}

static int thread_wants(long b, struct want *w) {
  int n = 0;
  w[n++] = (struct want){ SIGHUP, tkill_code, 0 };
  for (int k = 0; k < 3; k++) w[n++] = (struct want){ SIGRTMIN + 2, SI_QUEUE, (int)(b * 100 + 20 + k) };
  return n;
}

static void *worker_main(void *arg) {
  (void)arg;
  for (;;) {
    while (sem_wait(&go) < 0) {}
    struct want w[8];
    int n = thread_wants(batch, w);
    worker_error[0] = 0;
    take_and_check(w, n, batch, worker_error, sizeof worker_error);
    sem_post(&done);
  }
  return NULL;
}

static void send_batch(long b) {
  for (int k = 0; k < 2; k++) sigqueue(getpid(), SIGRTMIN + 3, (union sigval){ .sival_int = (int)(b * 100 + 10 + k) });
  for (int k = 0; k < 5; k++) sigqueue(getpid(), SIGRTMIN + 1, (union sigval){ .sival_int = (int)(b * 100 + k) });
  for (int k = 0; k < 3; k++) {
    int rc = pthread_sigqueue(worker, SIGRTMIN + 2, (union sigval){ .sival_int = (int)(b * 100 + 20 + k) });
    if (rc) broken("pthread_sigqueue: %s", strerror(rc));
  }
  if (pthread_kill(worker, SIGHUP)) broken("pthread_kill failed");
  kill(getpid(), SIGUSR1);
}

int main(void) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  int sigs[] = { SIGUSR1, SIGHUP, SIGRTMIN + 1, SIGRTMIN + 2, SIGRTMIN + 3 };
  sigset_t blocked;
  sigemptyset(&blocked);
  for (unsigned i = 0; i < sizeof sigs / sizeof *sigs; i++) {
    signal(sigs[i], never);
    sigaddset(&blocked, sigs[i]);
  }
  sigprocmask(SIG_BLOCK, &blocked, NULL);
  sem_init(&go, 0, 0);
  sem_init(&done, 0, 0);
  pthread_create(&worker, NULL, worker_main, NULL);
  for (long tick = 1;; tick++) {
    if (tick > 1) {
      char err[256] = "";
      struct want w[8];
      int n = process_wants(tick - 1, w);
      if (take_and_check(w, n, tick - 1, err, sizeof err) < 0) broken("process: %s", err);
      batch = tick - 1;
      sem_post(&go);
      while (sem_wait(&done) < 0) {}
      if (worker_error[0]) broken("thread: %s", worker_error);
    }
    send_batch(tick);
    printf("tick %ld batch %ld checked\n", tick, tick - 1);
    struct timespec ts = { 0, 100 * 1000000 };
    while (nanosleep(&ts, &ts) == -1 && errno == EINTR) {}
  }
}
