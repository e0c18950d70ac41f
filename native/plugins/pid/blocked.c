/* Waits blocked in the kernel across a restart. A thread inside
 * wait4/waitid for one child or group when the checkpoint came was stopped
 * there, and the kernel rewound it so that the call is made again when the
 * suspend handler returns (SA_RESTART) — with the registers it had, i.e.
 * the kernel id from before. In a restored process that id belongs to
 * someone else or no one (ECHILD). Instead such a call returns EINTR, and
 * the wrapper (wrappers.c), seeing that a restart happened meanwhile,
 * translates again and waits again. */
#include "../../core/core.h"
#include "pid.h"
#include <errno.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <ucontext.h>

#if defined(__x86_64__)
/* About to (re-)enter a wait for a particular child or process group. */
static int stale_wait(const greg_t *g) {
  const unsigned char *ip = (const unsigned char *)g[REG_RIP];
  if (ip[0] != 0x0f || ip[1] != 0x05) return 0;   /* not at a syscall instruction */
  long nr = g[REG_RAX], first = g[REG_RDI];
  if (nr == SYS_wait4) return (pid_t)first > 0 || (pid_t)first < -1;
  if (nr == SYS_waitid) return first == P_PID || first == P_PGID;
  return 0;
}

static void thread_resuming(struct thread_rec *t, pid_t stopped_tid) {
  (void)stopped_tid;
  if (!t->restored || !t->uc) return;
  greg_t *g = ((ucontext_t *)t->uc)->uc_mcontext.gregs;
  if (!stale_wait(g)) return;
  g[REG_RAX] = -EINTR;   /* as if a signal had interrupted it */
  g[REG_RIP] += 2;       /* past the syscall instruction */
}

static const struct stasis_thread_hooks blocked_hooks = { NULL, NULL, thread_resuming };
STASIS_REGISTER static void blocked_register(void) { stasis_register_thread_hooks(&blocked_hooks); }
#endif
