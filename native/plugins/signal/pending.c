/* Signals pending at the checkpoint (blocked by the program, or queued
 * several times): taken out of the kernel, kept in memory — so in the
 * image — and queued again with their whole siginfo, in the same order,
 * when the program continues, in this process or in a restored one.
 *
 * Only a thread can dequeue what is pending for it alone: each thread takes
 * its own in its suspend handler (thread hooks), the checkpoint thread
 * takes the process's at SAVE, when everything is stopped. Requeueing goes
 * the same way: the kernel lets a thread forge a siginfo with si_code >= 0
 * (kill, tgkill, SIGCHLD) only in a signal to itself, so each thread
 * requeues its own, and the main thread (whose tid is the pid) the
 * process's, before they return to the program. */
#include "../../core/core.h"
#include "../pid/pid.h"
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#define MAX_PENDING 4096
#define PROCESS 0          /* owner of a signal pending for the whole process */

struct pending {
  pid_t owner;             /* kernel tid at the checkpoint, or PROCESS */
  siginfo_t info;
};
static struct pending queue[MAX_PENDING];
static volatile int used;
static volatile int overflow;
static volatile int main_stopped;   /* the main thread will requeue the process's */
static volatile int lock;           /* around status_buf */
static char status_buf[4096];

static pid_t kernel_pid(void) { return (pid_t)syscall(SYS_getpid); }
static pid_t kernel_tid(void) { return (pid_t)syscall(SYS_gettid); }

static uint64_t blocked_pending(void) {
  uint64_t set = 0;
  syscall(SYS_rt_sigpending, &set, 8);
  return set;
}

/* SigPnd (this thread's own) and ShdPnd (the process's) from a status file. */
static void read_pending(const char *path, uint64_t *own, uint64_t *shared) {
  while (__atomic_exchange_n(&lock, 1, __ATOMIC_ACQUIRE)) sched_yield();
  *own = *shared = 0;
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  ssize_t n = fd < 0 ? -1 : read(fd, status_buf, sizeof status_buf - 1);
  if (fd >= 0) close(fd);
  if (n > 0) {
    status_buf[n] = 0;
    const char *p = strstr(status_buf, "\nSigPnd:");
    if (p) *own = strtoull(p + 8, NULL, 16);
    p = strstr(status_buf, "\nShdPnd:");
    if (p) *shared = strtoull(p + 8, NULL, 16);
  }
  __atomic_store_n(&lock, 0, __ATOMIC_RELEASE);
}

static int ours(int sig) { return sig == stasis_cfg.signal || sig == SIGKILL || sig == SIGSTOP; }

/* Dequeues one instance of sig into the next slot; 0 when none was left. */
static int take_one(int sig, pid_t owner) {
  int slot = __atomic_fetch_add(&used, 1, __ATOMIC_SEQ_CST);
  if (slot >= MAX_PENDING) { overflow = 1; return 0; }
  uint64_t set = 1ull << (sig - 1);
  struct timespec now = { 0, 0 };
  struct pending *p = &queue[slot];
  p->owner = -1;   /* an empty slot until filled */
  if (syscall(SYS_rt_sigtimedwait, &set, &p->info, &now, 8) != sig) return 0;
  pid_sender_to_virt(&p->info);   /* kernel ids change at a restore */
  p->owner = owner;
  return 1;
}

/* On each user thread, stopped: its own signals. The kernel gives a thread
 * its own pending signals before the process's, so where one number is
 * pending in both, the thread takes until its own set no longer has it. */
static void take_thread_signals(struct thread_rec *t) {
  if (t->is_main) main_stopped = 1;
  if (!blocked_pending()) return;   /* the usual case: one system call */
  uint64_t own, shared;
  read_pending("/proc/thread-self/status", &own, &shared);
  pid_t tid = kernel_tid();
  for (int sig = 1; sig <= 64; sig++) {
    uint64_t bit = 1ull << (sig - 1);
    if (!(own & bit) || ours(sig)) continue;
    if (!(shared & bit)) { while (take_one(sig, tid)) {} continue; }
    while ((own & bit) && take_one(sig, tid)) read_pending("/proc/thread-self/status", &own, &shared);
  }
}

/* On the checkpoint thread at SAVE: the process's. */
static void take_process_signals(void) {
  uint64_t own, shared;
  read_pending("/proc/thread-self/status", &own, &shared);
  for (int sig = 1; sig <= 64; sig++)
    if ((shared & (1ull << (sig - 1))) && !ours(sig)) while (take_one(sig, PROCESS)) {}
}

static void requeue(pid_t owner, int to_thread) {
  int n = used < MAX_PENDING ? used : MAX_PENDING;
  for (int i = 0; i < n; i++) {
    const struct pending *p = &queue[i];
    if (p->owner != owner) continue;
    siginfo_t si = p->info;
    pid_sender_to_real(&si);   /* as a fresh signal: translated where it is taken */
    long r = to_thread ? syscall(SYS_rt_tgsigqueueinfo, kernel_pid(), kernel_tid(), si.si_signo, &si)
                       : syscall(SYS_rt_sigqueueinfo, kernel_pid(), si.si_signo, &si);
    if (r < 0) stasis_log("signal %d pending at the checkpoint could not be queued again: %s",
                          si.si_signo, strerror(errno));
  }
}

static void thread_resuming(struct thread_rec *t, pid_t stopped_tid) {
  requeue(stopped_tid, 1);
  if (t->is_main) requeue(PROCESS, 0);
}

static int begin(void) {
  used = 0;
  overflow = 0;
  main_stopped = 0;
  return 0;
}

static int pending_event(enum stasis_event ev) {
  if (ev == STASIS_EVENT_SAVE) {
    take_process_signals();
    if (overflow) { stasis_fail("more than %d signals pending", MAX_PENDING); return -1; }
  } else if (ev == STASIS_EVENT_RESUME && !main_stopped) {
    /* No main thread (it called pthread_exit): the checkpoint thread queues
     * them; the kernel refuses those whose si_code says kill() (logged). */
    requeue(PROCESS, 0);
  }
  return 0;
}

static const struct stasis_thread_hooks pending_hooks = { begin, take_thread_signals, thread_resuming };
static const struct stasis_plugin pending_plugin = { "pending-signals", pending_event };
STASIS_REGISTER static void pending_register(void) {
  stasis_register_thread_hooks(&pending_hooks);
  stasis_register_plugin(&pending_plugin);
}
