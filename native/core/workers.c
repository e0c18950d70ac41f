/* Helper threads for the work of a checkpoint that runs on every CPU
 * (scanning, compressing and hashing memory): raw threads (clone) that
 * share memory, files and the calling thread's TLS, and run nothing but
 * computation and plain system calls, no libc start-up, no malloc. Every
 * signal stays blocked in them, as on the thread that makes them (the
 * checkpoint thread, or a forked writer). */
#include "core.h"
#include <linux/futex.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#define WORKER_STACK (128 * 1024)

long stasis_clone(unsigned long flags, void *stack, pid_t *ptid, pid_t *ctid, unsigned long tls, void (*fn)(void *), void *arg);

void *workers_map(size_t n) {
  void *p = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  return p == MAP_FAILED ? NULL : p;
}

int workers_cpus(void) {
  cpu_set_t set;
  CPU_ZERO(&set);   /* the kernel fills only as many bytes as it has CPUs for */
  return syscall(SYS_sched_getaffinity, 0, sizeof set, &set) > 0 ? CPU_COUNT(&set) : 1;
}

static void worker_main(void *arg) {
  struct workers *ws = arg;
  ws->fn(ws->arg);
  syscall(SYS_exit, 0);
  __builtin_unreachable();
}

int workers_start(struct workers *ws, int n, void (*fn)(void *), void *arg) {
  ws->started = ws->stacks_n = 0;
  ws->stacks = NULL;
  ws->fn = fn;
  ws->arg = arg;
  if (n > WORKERS_MAX) n = WORKERS_MAX;
  if (n <= 0) return 0;
  ws->stacks = mmap(NULL, (size_t)n * WORKER_STACK, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (ws->stacks == MAP_FAILED) { ws->stacks = NULL; return 0; }
  ws->stacks_n = n;
  unsigned long flags = CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD | CLONE_SYSVSEM | CLONE_CHILD_CLEARTID;
  for (int i = 0; i < n; i++) {
    ws->alive[i] = 1;
    if (stasis_clone(flags, ws->stacks + (size_t)(i + 1) * WORKER_STACK, NULL, (pid_t *)&ws->alive[i], 0, worker_main, ws) < 0) {
      ws->alive[i] = 0;
      break;
    }
    ws->started++;
  }
  return ws->started;
}

void workers_join(struct workers *ws) {
  /* The kernel clears each word and wakes it when its thread has exited. */
  for (int i = 0; i < ws->started; i++)
    while (ws->alive[i]) syscall(SYS_futex, &ws->alive[i], FUTEX_WAIT, ws->alive[i], NULL, NULL, 0);
  if (ws->stacks) munmap(ws->stacks, (size_t)ws->stacks_n * WORKER_STACK);
  ws->stacks = NULL;
  ws->started = 0;
}
