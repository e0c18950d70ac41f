/* The exec family: the suspend signal must never end a process on its way
 * through exec. Exec resets a caught signal to its default action (which
 * for the suspend signal is to terminate) and keeps pending ones, so a
 * suspend signal arriving in execve would be delivered in the new image
 * before libstasis has a handler there. Around every exec:
 *  - no checkpoint of this process starts (the creation lock of threads.c:
 *    its checkpoint thread sends no suspend signal meanwhile), and one in
 *    progress is waited for (this thread stops in it like any other);
 *  - the suspend signal is ignored: an ignored signal stays ignored in the
 *    new image until its constructor installs the handler, and one sent by
 *    anyone else meanwhile is dropped. The signal mask is not touched.
 * If exec fails, the handler is back and the lock released. glibc's own
 * execs (posix_spawn, system, popen) bypass these wrappers; their children
 * are new processes no checkpoint thread targets before their own
 * constructor runs (a checkpoint thread signals only its own threads).
 * In a job, a plugin may run another program instead (exec_register_rewrite:
 * plugins/ssh relays ssh, rsh and srun); the core knows nothing of which. */
#include "core.h"
#include <dlfcn.h>
#include <sched.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

typedef int (*execve_fn)(const char *, char *const[], char *const[]);
typedef int (*execv_fn)(const char *, char *const[]);
typedef int (*fexecve_fn)(int, char *const[], char *const[]);
typedef int (*execveat_fn)(int, const char *, char *const[], char *const[], int);

/* Resolved before the program runs: dlsym may allocate, and a vfork child
 * that calls exec shares its parent's heap. */
static execve_fn real_execve, real_execvpe;
static execv_fn real_execv, real_execvp;
static fexecve_fn real_fexecve;
static execveat_fn real_execveat;

__attribute__((constructor(210))) static void exec_resolve(void) {
  real_execve = (execve_fn)dlsym(RTLD_NEXT, "execve");
  real_execvpe = (execve_fn)dlsym(RTLD_NEXT, "execvpe");
  real_execv = (execv_fn)dlsym(RTLD_NEXT, "execv");
  real_execvp = (execv_fn)dlsym(RTLD_NEXT, "execvp");
  real_fexecve = (fexecve_fn)dlsym(RTLD_NEXT, "fexecve");
  real_execveat = (execveat_fn)dlsym(RTLD_NEXT, "execveat");
}

static void ignore_suspend_signal(void) {
  struct sigaction ign;
  memset(&ign, 0, sizeof ign);
  ign.sa_handler = SIG_IGN;
  stasis_real_sigaction(stasis_cfg.signal, &ign, NULL);
}

/* Threads of this process in an exec call: the handler comes back only
 * when the last of them failed (the disposition is the whole process's).
 * The count and the disposition change together, under a spin lock taken
 * with every signal blocked (exec may be called from a signal handler). */
static volatile int exec_lock, execing;

static void exec_count(int delta) {
  sigset_t all, old;
  sigfillset(&all);
  syscall(SYS_rt_sigprocmask, SIG_BLOCK, &all, &old, 8);
  while (__atomic_exchange_n(&exec_lock, 1, __ATOMIC_ACQUIRE)) sched_yield();
  execing += delta;
  if (delta > 0) ignore_suspend_signal();
  else if (execing == 0) threads_install_handler();
  __atomic_store_n(&exec_lock, 0, __ATOMIC_RELEASE);
  syscall(SYS_rt_sigprocmask, SIG_SETMASK, &old, NULL, 8);
}

/* A forked child is in no exec, whatever its parent's other threads were
 * doing: its handler back, its count zero. */
void exec_reset_after_fork(void) {
  exec_lock = 0;
  execing = 0;
  threads_install_handler();
}

/* 1 when this process's lock was taken; -1 when stasis is dormant. A child
 * of vfork (or of a clone sharing our memory) leaves the lock and the count
 * alone: they are its parent's (an exec that succeeds would never give them
 * back), and its signal dispositions are its own. */
static int exec_begin(void) {
  if (stasis_cfg.signal <= 0) return -1;
  int own = (pid_t)syscall(SYS_getpid) == stasis_kernel_pid;
  if (!own) { ignore_suspend_signal(); return 0; }
  fork_save_wait();   /* this image's writer reports before the image is gone */
  stasis_creation_enter();
  exec_count(+1);
  /* The coordinator cannot see this process's /proc when it runs on
   * another host: told now, it waits for the new image instead of taking
   * the closed connection for an exit. */
  coord_send("EXEC 1");
  return 1;
}

/* The exec failed: the process goes on as before. */
static int exec_failed(int own) {
  int err = errno;
  if (own == 0) threads_install_handler();
  if (own > 0) {
    coord_send("EXEC 0");
    exec_count(-1);
    stasis_creation_leave();
  }
  errno = err;
  return -1;
}

#define GUARDED(call) do { \
    int own_ = exec_begin(); \
    call; \
    return exec_failed(own_); \
  } while (0)

static int missing(void) { errno = ENOSYS; return -1; }

/* Rewrites plugins registered (exec_register_rewrite), asked in order. */
static exec_rewrite_fn rewrites[4];
static int nrewrites;

int exec_register_rewrite(exec_rewrite_fn fn) {
  if (nrewrites == (int)(sizeof rewrites / sizeof rewrites[0])) return -1;
  rewrites[nrewrites++] = fn;
  return 0;
}

/* The program a plugin runs instead of `path`, if one wants to: returns
 * only when none does (0) or that exec failed (-1, errno set). In a job
 * only (a dormant libstasis rewrites nothing). Only an exec that would
 * run: a shell searching PATH (dash's `exec ssh`) execs each candidate in
 * turn and goes on at ENOENT, so a missing one must fail as it would. */
static int rewritten(const char *path, char *const argv[], char *const envp[]) {
  if (!nrewrites || stasis_cfg.signal <= 0 || !path || !argv || !real_execve) return 0;
  if (access(path, X_OK) != 0) return 0;
  for (int h = 0; h < nrewrites; h++) {
    struct exec_rewrite rw;
    memset(&rw, 0, sizeof rw);
    if (!rewrites[h](path, argv, &rw) || !rw.path || rw.nprefix < 0 || rw.nprefix > 8) continue;
    size_t n = 0;
    while (argv[n]) n++;
    char *av[rw.nprefix + n + 1];
    for (int i = 0; i < rw.nprefix; i++) av[i] = (char *)rw.prefix[i];
    for (size_t i = 0; i <= n; i++) av[rw.nprefix + i] = argv[i];
    real_execve(rw.path, av, envp);
    return -1;
  }
  return 0;
}

/* execvp's search: the first executable `file` along PATH (glibc's
 * default when unset), into buf; NULL when none (the real call reports). */
static const char *search_path(const char *file, char *buf, size_t cap) {
  if (!file || !*file) return NULL;
  if (strchr(file, '/')) return file;
  const char *p = getenv("PATH");
  if (!p) p = "/bin:/usr/bin";
  size_t fl = strlen(file);
  for (;;) {
    const char *end = strchrnul(p, ':');
    size_t dl = (size_t)(end - p);
    if (dl + fl + 2 <= cap) {
      if (dl) { memcpy(buf, p, dl); buf[dl++] = '/'; }   /* empty entry: the current directory */
      memcpy(buf + dl, file, fl + 1);
      if (access(buf, X_OK) == 0) return buf;
    }
    if (!*end) return NULL;
    p = end + 1;
  }
}

static int rewritten_search(const char *file, char *const argv[], char *const envp[]) {
  if (!nrewrites || stasis_cfg.signal <= 0) return 0;
  char buf[4096];
  return rewritten(search_path(file, buf, sizeof buf), argv, envp);
}

extern char **environ;

API int execve(const char *path, char *const argv[], char *const envp[]) {
  GUARDED(if (rewritten(path, argv, envp) == 0) (void)(real_execve ? real_execve(path, argv, envp) : missing()));
}

API int execv(const char *path, char *const argv[]) {
  GUARDED(if (rewritten(path, argv, environ) == 0) (void)(real_execv ? real_execv(path, argv) : missing()));
}

API int execvp(const char *file, char *const argv[]) {
  GUARDED(if (rewritten_search(file, argv, environ) == 0) (void)(real_execvp ? real_execvp(file, argv) : missing()));
}

API int execvpe(const char *file, char *const argv[], char *const envp[]) {
  GUARDED(if (rewritten_search(file, argv, envp) == 0) (void)(real_execvpe ? real_execvpe(file, argv, envp) : missing()));
}

API int fexecve(int fd, char *const argv[], char *const envp[]) {
  GUARDED(real_fexecve ? real_fexecve(fd, argv, envp) : missing());
}

API int execveat(int dirfd, const char *path, char *const argv[], char *const envp[], int flags) {
  GUARDED(real_execveat ? real_execveat(dirfd, path, argv, envp, flags) : missing());
}

/* execl, execlp, execle: their arguments as an argv (on the stack: no
 * allocation, as exec may be called from a vfork child or a signal handler).
 * glibc declares `arg` non-null: the list has at least it and its NULL. */
static size_t more_args(va_list ap) {
  size_t m = 0;
  while (va_arg(ap, char *)) m++;
  return m;
}

/* argv[] = arg, the m arguments after it, NULL; leaves `ap` past them. */
#define COLLECT_ARGV(arg, argv, ap) \
  va_list copy_; \
  va_copy(copy_, ap); \
  size_t m_ = more_args(copy_); \
  va_end(copy_); \
  char *argv[m_ + 2]; \
  argv[0] = (char *)(arg); \
  for (size_t i_ = 1; i_ <= m_; i_++) argv[i_] = va_arg(ap, char *); \
  argv[m_ + 1] = NULL

API int execl(const char *path, const char *arg, ...) {
  va_list ap;
  va_start(ap, arg);
  COLLECT_ARGV(arg, argv, ap);
  va_end(ap);
  return execv(path, argv);
}

API int execlp(const char *file, const char *arg, ...) {
  va_list ap;
  va_start(ap, arg);
  COLLECT_ARGV(arg, argv, ap);
  va_end(ap);
  return execvp(file, argv);
}

API int execle(const char *path, const char *arg, ...) {
  va_list ap;
  va_start(ap, arg);
  COLLECT_ARGV(arg, argv, ap);
  (void)va_arg(ap, char *);   /* the NULL that ends the arguments */
  char *const *envp = va_arg(ap, char *const *);
  va_end(ap);
  return execve(path, argv, envp);
}
