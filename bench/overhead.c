/* The work bench/overhead.sh times, bare and under stasis; each mode times
 * only its own loop (start-up and joining the coordinator are launch.sh's)
 * and prints "seconds S cpu C" (wall time, and CPU time of all its threads).
 *   overhead cpu N     N rounds of integer and floating-point arithmetic
 *   overhead sys N     N rounds of a syscall mix: open+read+close a file,
 *                      a pipe write and read, getppid, sigprocmask twice,
 *                      stat, kill(self, 0)
 *   overhead ops N     each call of that mix (and fork+waitpid) alone, N
 *                      times: "op NAME WALL-NS CPU-NS" per call (CPU: this
 *                      thread's), to find what costs
 * OVERHEAD_IDLE_THREAD=1: one more thread, blocked for good, as libstasis's
 * checkpoint thread is: the kernel's single-threaded shortcuts (a file
 * looked up without a reference count, an mm no other thread uses) are off. */
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double clock_s(clockid_t c) {
  struct timespec t;
  clock_gettime(c, &t);
  return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}
static double now(void) { return clock_s(CLOCK_MONOTONIC); }
/* CPU time of every thread of the process (the checkpoint thread's too):
 * what a wrapper costs, unmoved by other programs taking the CPUs. */
static double cpu_now(void) { return clock_s(CLOCK_PROCESS_CPUTIME_ID); }

static volatile double sink;
static char file[] = "/tmp/stasis-overhead-XXXXXX";
static int pfd[2];

static void cpu(long n) {
  unsigned long x = 88172645463325252UL;
  double f = 1.0;
  for (long i = 0; i < n; i++)
    for (int j = 0; j < 1000; j++) {
      x ^= x << 13, x ^= x >> 7, x ^= x << 17;
      f = f * 0.999999 + (double)(x & 1023) * 1e-9;
    }
  sink = f + (double)x;
}

static void op_open(void) { char b[64]; int fd = open(file, O_RDONLY); if (fd >= 0) { sink += (double)read(fd, b, sizeof b); close(fd); } }
static void op_pipe(void) { char b[64] = { 0 }; if (write(pfd[1], b, sizeof b) > 0) sink += (double)read(pfd[0], b, sizeof b); }
static void op_getppid(void) { sink += getppid(); }
static void op_sigprocmask(void) { sigset_t s, old; sigemptyset(&s); sigaddset(&s, SIGUSR1); sigprocmask(SIG_BLOCK, &s, &old); sigprocmask(SIG_SETMASK, &old, NULL); }
static void op_stat(void) { struct stat st; sink += stat(file, &st); }
static void op_kill(void) { sink += kill(getpid(), 0); }
static void op_fork(void) { pid_t p = fork(); if (p == 0) _exit(0); if (p > 0) waitpid(p, NULL, 0); }

static const struct { const char *name; void (*fn)(void); int per; } ops[] = {
  { "open+read+close", op_open, 1 }, { "pipe write+read", op_pipe, 1 }, { "getppid", op_getppid, 1 },
  { "sigprocmask x2", op_sigprocmask, 1 }, { "stat", op_stat, 1 }, { "getpid+kill(0)", op_kill, 1 },
  { "fork+waitpid", op_fork, 200 },
};

static void *idle(void *unused) { (void)unused; for (;;) pause(); }

int main(int argc, char **argv) {
  pthread_t t;
  if (getenv("OVERHEAD_IDLE_THREAD") && pthread_create(&t, NULL, idle, NULL)) { perror("overhead: pthread_create"); return 1; }
  if (argc != 3) { fprintf(stderr, "usage: overhead cpu|sys|ops N\n"); return 2; }
  long n = atol(argv[2]);
  int fd = mkstemp(file);
  if (fd < 0 || write(fd, "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", 64) != 64 || pipe(pfd)) { perror("overhead"); return 1; }
  close(fd);
  double t0 = now(), c0 = cpu_now();
  if (!strcmp(argv[1], "cpu")) cpu(n);
  else if (!strcmp(argv[1], "sys")) {
    for (long i = 0; i < n; i++)
      for (size_t k = 0; k + 1 < sizeof ops / sizeof *ops; k++) ops[k].fn();
  } else if (!strcmp(argv[1], "ops")) {
    for (size_t k = 0; k < sizeof ops / sizeof *ops; k++) {
      long m = n / ops[k].per;
      double s = now(), c = clock_s(CLOCK_THREAD_CPUTIME_ID);
      for (long i = 0; i < m; i++) ops[k].fn();
      printf("op %s %.0f %.0f\n", ops[k].name, (now() - s) / (double)m * 1e9, (clock_s(CLOCK_THREAD_CPUTIME_ID) - c) / (double)m * 1e9);
    }
  } else { fprintf(stderr, "overhead: unknown mode %s\n", argv[1]); return 2; }
  printf("seconds %.6f cpu %.6f\n", now() - t0, cpu_now() - c0);
  unlink(file);
  return 0;
}
