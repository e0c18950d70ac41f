/* clone() called by the program to make a process with no sharing — the
 * fork-with-its-own-stack pattern, clone(fn, stack, SIGCHLD, arg) — is made
 * with fork() instead, so the child joins the job as any forked child does
 * (glibc's own fork bookkeeping included, which a raw clone skips); it runs
 * fn on the stack it inherits. Threads, vfork-like calls and clones with
 * other flags go to glibc unchanged: such a child joins the job only when
 * it execs (docs/user-guide.md). */
#include "../../core/core.h"
#include <dlfcn.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <unistd.h>

typedef int (*clone_fn)(void *);

API int clone(clone_fn fn, void *stack, int flags, void *arg, ...) {
  static int (*real_clone)(clone_fn, void *, int, void *, ...);
  if (!real_clone) real_clone = (int (*)(clone_fn, void *, int, void *, ...))dlsym(RTLD_NEXT, "clone");
  va_list ap;
  va_start(ap, arg);
  pid_t *ptid = va_arg(ap, pid_t *);
  void *tls = va_arg(ap, void *);
  pid_t *ctid = va_arg(ap, pid_t *);
  va_end(ap);
  if (flags != SIGCHLD || !fn || !stasis_cfg.signal) return real_clone(fn, stack, flags, arg, ptid, tls, ctid);
  pid_t pid = fork();
  if (pid == 0) _exit(fn(arg));
  return pid;
}
