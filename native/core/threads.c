/* Stopping and restarting the user threads of a process.
 *
 * The checkpoint thread sends each user thread the suspend signal. The
 * handler records what the kernel keeps per thread (TLS base, tid slot,
 * alternate stack, name), saves a call context, and waits on a futex. The
 * kernel's signal frame on the thread's own stack holds every register and
 * the signal mask, so resuming — in this process, or in a restored one — is
 * returning from the handler. At restart each thread is cloned again with
 * its old TLS and jumps back into its handler. */
#include "core.h"
#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/rseq.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include <asm/prctl.h>

#ifndef SS_AUTODISARM   /* linux/signal.h; not in glibc 2.36's headers */
#define SS_AUTODISARM (1U << 31)
#endif

struct thread_rec stasis_threads[MAX_THREADS];
int stasis_nthreads;
pid_t stasis_ckpt_tid;

static volatile int checkpoint_active;
static volatile int suspended_count;
static volatile int resume_word;
static volatile int suspend_value;     /* resume_word while threads are held */
static volatile int restored_count;
static volatile int leaving_count;     /* released threads still in their handler */
static volatile int creation_blocked, creation_users;
static void *tramp_stacks;
static size_t tramp_size;

long stasis_clone(unsigned long flags, void *stack, pid_t *ptid, pid_t *ctid,
                  unsigned long tls, void (*fn)(void *), void *arg);

long stasis_syscall_futex(volatile int *addr, int op, int val, const struct timespec *ts) {
  return syscall(SYS_futex, addr, op, val, ts, NULL, 0);
}

uint64_t stasis_get_fs(void) {
  unsigned long fs = 0;
  syscall(SYS_arch_prctl, ARCH_GET_FS, &fs);
  return fs;
}

static pid_t raw_gettid(void) { return (pid_t)syscall(SYS_gettid); }
/* The kernel's pid: getpid() may be virtualized (plugins/pid). */
static pid_t raw_getpid(void) { return (pid_t)syscall(SYS_getpid); }

static struct thread_rec *find_thread(pid_t tid) {
  for (int i = 0; i < stasis_nthreads; i++)
    if (stasis_threads[i].tid == tid) return &stasis_threads[i];
  return NULL;
}

void threads_record_self(struct thread_rec *t) {
  t->fs_base = stasis_get_fs();
  t->ctid = NULL;
  prctl(PR_GET_TID_ADDRESS, &t->ctid, 0, 0, 0);
  sigaltstack(NULL, &t->altstack);
  memset(t->name, 0, sizeof t->name);
  prctl(PR_GET_NAME, t->name, 0, 0, 0);
}

/* glibc registers an rseq area per thread; a new kernel thread has none. */
static void register_rseq(const struct thread_rec *t) {
  if (__rseq_size == 0) return;
  unsigned len = __rseq_size < 32 ? 32 : __rseq_size;
  void *area = (char *)t->fs_base + __rseq_offset;
  syscall(SYS_rseq, area, len, 0, RSEQ_SIG);
}

void threads_after_restart_self(struct thread_rec *t) {
  pid_t tid = raw_gettid();
  /* glibc's cached tid (struct pthread) keeps the value it had: mutexes
   * record their owner by it (a recursive or error-checking mutex held
   * across the checkpoint would otherwise no longer be ours). It is the
   * thread's virtual tid; plugins/pid translates where glibc hands it to
   * the kernel (pthread_kill, raise). */
  if (t->ctid) {
    if (t->is_main) syscall(SYS_set_tid_address, t->ctid);
  }
  t->saved_tid = t->tid;
  t->tid = tid;
  register_rseq(t);
  if (!(t->altstack.ss_flags & SS_DISABLE)) {
    stack_t ss = t->altstack;
    ss.ss_flags &= SS_AUTODISARM;   /* SS_ONSTACK is a state, not a setting */
    sigaltstack(&ss, NULL);
  }
  prctl(PR_SET_NAME, t->name, 0, 0, 0);
}

#define MAX_HOOKS 8
static const struct stasis_thread_hooks *hooks[MAX_HOOKS];
static int nhooks;

void stasis_register_thread_hooks(const struct stasis_thread_hooks *h) {
  if (nhooks < MAX_HOOKS) hooks[nhooks++] = h;
  else stasis_log("too many thread hooks");
}

static void suspend_handler(int sig, siginfo_t *si, void *uc) {
  (void)sig; (void)si;
  int saved_errno = errno;
  struct thread_rec *t = checkpoint_active ? find_thread(raw_gettid()) : NULL;
  if (!t) { errno = saved_errno; return; }
  threads_record_self(t);
  t->uc = uc;
  pid_t stopped_tid;
  if (ctx_save(&t->ctx) == 0) {
    t->restored = 0;
    for (int i = 0; i < nhooks; i++) if (hooks[i]->suspended) hooks[i]->suspended(t);
    stopped_tid = t->tid;
    __atomic_add_fetch(&suspended_count, 1, __ATOMIC_SEQ_CST);
    stasis_syscall_futex(&suspended_count, FUTEX_WAKE, 1, NULL);
  } else {
    threads_after_restart_self(t);
    t->restored = 1;
    stopped_tid = t->saved_tid;
    __atomic_add_fetch(&restored_count, 1, __ATOMIC_SEQ_CST);
    stasis_syscall_futex(&restored_count, FUTEX_WAKE, 1, NULL);
  }
  while (__atomic_load_n(&resume_word, __ATOMIC_SEQ_CST) == suspend_value)
    stasis_syscall_futex(&resume_word, FUTEX_WAIT, suspend_value, NULL);
  for (int i = 0; i < nhooks; i++) if (hooks[i]->resuming) hooks[i]->resuming(t, stopped_tid);
  if (__atomic_sub_fetch(&leaving_count, 1, __ATOMIC_SEQ_CST) == 0)
    stasis_syscall_futex(&leaving_count, FUTEX_WAKE, 1, NULL);
  errno = saved_errno;
}

/* Until every thread released last time has run its resuming hooks, what
 * they read must not be reset by the next checkpoint's begin hooks. */
static void wait_threads_left(void) {
  int n;
  while ((n = __atomic_load_n(&leaving_count, __ATOMIC_SEQ_CST)) > 0)
    stasis_syscall_futex(&leaving_count, FUTEX_WAIT, n, NULL);
}

void threads_install_handler(void) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = suspend_handler;
  sa.sa_flags = SA_SIGINFO | SA_RESTART;
  sigfillset(&sa.sa_mask);
  extern int stasis_real_sigaction(int, const struct sigaction *, struct sigaction *);
  stasis_real_sigaction(stasis_cfg.signal, &sa, NULL);
}

/* Thread creation is held off while a checkpoint runs (see wrappers.c). */
void threads_lock_creation(void) {
  __atomic_store_n(&creation_blocked, 1, __ATOMIC_SEQ_CST);
  struct timespec ms = { 0, 1000000 };
  while (__atomic_load_n(&creation_users, __ATOMIC_SEQ_CST) > 0) nanosleep(&ms, NULL);
}

void threads_unlock_creation(void) {
  __atomic_store_n(&creation_blocked, 0, __ATOMIC_SEQ_CST);
  stasis_syscall_futex(&creation_blocked, FUTEX_WAKE, 0x7fffffff, NULL);
}

void stasis_creation_enter(void) {
  for (;;) {
    while (__atomic_load_n(&creation_blocked, __ATOMIC_SEQ_CST))
      stasis_syscall_futex(&creation_blocked, FUTEX_WAIT, 1, NULL);
    __atomic_add_fetch(&creation_users, 1, __ATOMIC_SEQ_CST);
    if (!__atomic_load_n(&creation_blocked, __ATOMIC_SEQ_CST)) return;
    __atomic_sub_fetch(&creation_users, 1, __ATOMIC_SEQ_CST);
  }
}

void stasis_creation_leave(void) { __atomic_sub_fetch(&creation_users, 1, __ATOMIC_SEQ_CST); }

/* The child of fork() has one thread and no checkpoint in progress, whatever
 * its parent was doing (the forking thread may hold creation_users). */
void threads_reset_after_fork(void) {
  creation_blocked = 0;
  creation_users = 0;
  checkpoint_active = 0;
  leaving_count = 0;
  stasis_nthreads = 0;
  stasis_ckpt_tid = 0;
}

/* What the checkpoint thread reads before the program's threads stop (and
 * while they run again) comes from descriptors opened once, while the
 * program cannot run: at the thread's start (the program waits for it to
 * join), or in a restored process before it is released. A descriptor
 * opened while the program runs could be closed by the program: a
 * single-threaded program may close a number twice (bash, in every
 * pipeline), harmless there, but the second close would then take ours,
 * and its next pipe() reuse the number while we still read and close it:
 * bytes stolen from the program's pipe, its pipe end closed under it. */
static int task_dir = -1, main_status = -1;

static int open_high(const char *path, int flags) {
  int fd = open(path, flags | O_RDONLY | O_CLOEXEC);
  return fd < 0 ? -1 : stasis_move_high(fd);
}

void threads_close_proc(void) {
  if (task_dir >= 0) close(task_dir);
  if (main_status >= 0) close(main_status);
  task_dir = main_status = stasis_internal_fds[2] = stasis_internal_fds[3] = -1;
}

/* A restored process: the numbers were the old process's (not restored). */
void threads_forget_proc(void) {
  task_dir = main_status = stasis_internal_fds[2] = stasis_internal_fds[3] = -1;
}

void threads_open_proc(void) {
  threads_close_proc();
  char path[64];
  snprintf(path, sizeof path, "/proc/%d/task", (int)raw_getpid());
  stasis_internal_fds[2] = task_dir = open_high(path, O_DIRECTORY);
  snprintf(path, sizeof path, "/proc/%d/task/%d/status", (int)raw_getpid(), (int)raw_getpid());
  stasis_internal_fds[3] = main_status = open_high(path, 0);
}

int threads_task_dir(void) {
  return task_dir >= 0 && lseek(task_dir, 0, SEEK_SET) == 0 ? task_dir : -1;
}

ssize_t threads_main_status(char *buf, size_t cap) {
  if (main_status < 0 || cap == 0) return -1;
  ssize_t n = pread(main_status, buf, cap - 1, 0);
  if (n >= 0) buf[n] = 0;
  return n;
}

/* Adds every task of /proc/self/task not yet known and signals it.
 * Returns how many were added. */
static int signal_new_tasks(void) {
  char buf[4096];
  int added = 0;
  int dfd = threads_task_dir(), own = dfd < 0;
  if (own) dfd = open("/proc/self/task", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0) return -1;
  for (;;) {
    long n = syscall(SYS_getdents64, dfd, buf, sizeof buf);
    if (n <= 0) break;
    for (long off = 0; off < n;) {
      struct { uint64_t ino; int64_t off; unsigned short reclen; unsigned char type; char name[]; } *d = (void *)(buf + off);
      off += d->reclen;
      pid_t tid = (pid_t)strtol(d->name, NULL, 10);
      if (tid <= 0 || find_thread(tid)) continue;
      if (stasis_nthreads >= MAX_THREADS) { if (own) close(dfd); stasis_fail("more than %d threads", MAX_THREADS); return -1; }
      struct thread_rec *t = &stasis_threads[stasis_nthreads++];
      memset(t, 0, sizeof *t);
      t->tid = tid;
      t->is_main = tid == raw_getpid();
      if (syscall(SYS_tgkill, raw_getpid(), tid, stasis_cfg.signal) == 0) added++;
      else stasis_nthreads--;   /* exited meanwhile */
    }
  }
  if (own) close(dfd);
  return added;
}

static int task_exists(pid_t tid) {
  char path[64];
  snprintf(path, sizeof path, "/proc/self/task/%d", tid);
  return access(path, F_OK) == 0;
}

/* Drops records of threads that exited before handling the signal. */
static void forget_vanished(void) {
  for (int i = 0; i < stasis_nthreads; i++) {
    struct thread_rec *t = &stasis_threads[i];
    if (t->is_ckpt || t->fs_base || task_exists(t->tid)) continue;
    stasis_threads[i--] = stasis_threads[--stasis_nthreads];
  }
}

int threads_suspend(void) {
  wait_threads_left();
  for (int i = 0; i < nhooks; i++) if (hooks[i]->begin && hooks[i]->begin() < 0) return -1;
  stasis_nthreads = 0;
  suspended_count = 0;
  restored_count = 0;
  suspend_value = resume_word;
  struct thread_rec *self = &stasis_threads[stasis_nthreads++];
  memset(self, 0, sizeof *self);
  self->tid = stasis_ckpt_tid;
  self->is_ckpt = 1;
  self->is_main = stasis_ckpt_tid == raw_getpid();
  __atomic_store_n(&checkpoint_active, 1, __ATOMIC_SEQ_CST);
  struct timespec tick = { 0, 20 * 1000000 };
  int waited_ms = 0;
  for (;;) {
    int added = signal_new_tasks();
    if (added < 0) { threads_resume(); return -1; }
    int want;
    while ((want = stasis_nthreads - 1) > __atomic_load_n(&suspended_count, __ATOMIC_SEQ_CST)) {
      int seen = suspended_count;
      if (stasis_syscall_futex(&suspended_count, FUTEX_WAIT, seen, &tick) < 0 && errno == ETIMEDOUT) {
        waited_ms += 20;
        forget_vanished();
        if (waited_ms >= 10000) {
          stasis_fail("a thread did not stop within 10 s (does it block signal %d?)", stasis_cfg.signal);
          threads_resume();
          return -1;
        }
      }
    }
    if (added == 0) break;   /* a full pass found no new thread */
  }
  return 0;
}

void threads_resume(void) {
  __atomic_store_n(&checkpoint_active, 0, __ATOMIC_SEQ_CST);
  /* Every thread that stopped is released now (after a restart, each one
   * came back: as many as had stopped when the image was written). */
  __atomic_store_n(&leaving_count, __atomic_load_n(&suspended_count, __ATOMIC_SEQ_CST), __ATOMIC_SEQ_CST);
  __atomic_add_fetch(&resume_word, 1, __ATOMIC_SEQ_CST);
  stasis_syscall_futex(&resume_word, FUTEX_WAKE, 0x7fffffff, NULL);
}

struct thread_rec *threads_main(void) {
  for (int i = 0; i < stasis_nthreads; i++) if (stasis_threads[i].is_main) return &stasis_threads[i];
  for (int i = 0; i < stasis_nthreads; i++) if (!stasis_threads[i].is_ckpt) return &stasis_threads[i];
  return &stasis_threads[0];
}

struct thread_rec *threads_ckpt(void) {
  for (int i = 0; i < stasis_nthreads; i++) if (stasis_threads[i].is_ckpt) return &stasis_threads[i];
  return NULL;
}

static void restored_thread_start(void *arg) {
  struct thread_rec *t = arg;
  ctx_jump(&t->ctx, 1);
}

/* Restart, on the thread that became the main thread: clone all others. */
void threads_recreate(void) {
  struct thread_rec *self = threads_main();
  restored_count = 0;
  tramp_size = 16384 * (size_t)stasis_nthreads;
  tramp_stacks = mmap(NULL, tramp_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  for (int i = 0; i < stasis_nthreads; i++) {
    struct thread_rec *t = &stasis_threads[i];
    if (t == self) continue;
    unsigned long flags = CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD |
                          CLONE_SYSVSEM | CLONE_SETTLS | CLONE_CHILD_CLEARTID;   /* not PARENT_SETTID: see above */
    char *stack = (char *)tramp_stacks + 16384 * (size_t)(i + 1);
    long r = stasis_clone(flags, stack, t->ctid, t->ctid, t->fs_base, restored_thread_start, t);
    if (r < 0) { stasis_log("restart: cannot recreate thread %d", t->tid); _exit(70); }
  }
}

/* Checkpoint thread, restart: wait until every user thread is back in its
 * handler, then drop the trampoline stacks. */
void threads_wait_restored(void) {
  int want = stasis_nthreads - 1;
  int seen;
  while ((seen = __atomic_load_n(&restored_count, __ATOMIC_SEQ_CST)) < want)
    stasis_syscall_futex(&restored_count, FUTEX_WAIT, seen, NULL);
  if (tramp_stacks) munmap(tramp_stacks, tramp_size);
  tramp_stacks = NULL;
}
