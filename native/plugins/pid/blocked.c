/* Waits blocked in the kernel across a restart. A thread inside
 * wait4/waitid when the checkpoint came was stopped there, and the kernel
 * rewound it so that the call is made again when the suspend handler
 * returns (SA_RESTART) — with the registers it had, i.e. the kernel id from
 * before. In a restored process that id belongs to someone else or no one
 * (ECHILD), and whatever the call returns is a new kernel id the caller
 * does not know.
 * - Inside the wrappers (wrappers.c) such a call returns EINTR instead, and
 *   the wrapper, seeing that a restart happened meanwhile, translates again
 *   and waits again.
 * - Anywhere else (glibc's system(), pclose() and wait3 call their own
 *   internal wait; a raw syscall()), the thread does not make the syscall:
 *   it goes through wait_again (below), which makes the wait with the id as
 *   the program knew it at the checkpoint, translated, and returns to just
 *   after the syscall instruction with the result a syscall would give,
 *   every other register as the syscall would have left it. */
#include "../../core/core.h"
#include "pid.h"
#include <errno.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <ucontext.h>

#if defined(__x86_64__)
/* Entered in place of the syscall with rax = its number, rcx = the id as the
 * program knows it, r11 = where the syscall returns to (rcx and r11 are
 * the registers a syscall clobbers), the syscall's arguments in place.
 * Keeps out of the interrupted code's red zone; saves the argument
 * registers and the SSE state, which a syscall preserves and C code may not. */
__asm__(
  "  .text\n"
  "  .type wait_again,@function\n"
  "wait_again:\n"
  "  leaq -128(%rsp), %rsp\n"
  "  pushq %r11\n"
  "  pushq %rbp\n"
  "  movq %rsp, %rbp\n"
  "  pushq %r9\n  pushq %r8\n  pushq %r10\n  pushq %rdx\n  pushq %rsi\n  pushq %rdi\n"
  "  movq %rsp, %rdx\n"          /* args[6]: rdi rsi rdx r10 r8 r9 */
  "  movq %rax, %rdi\n"
  "  movq %rcx, %rsi\n"
  "  andq $-16, %rsp\n"
  "  subq $512, %rsp\n"
  "  fxsave64 (%rsp)\n"
  "  call pid_wait_again\n"
  "  fxrstor64 (%rsp)\n"
  "  leaq -48(%rbp), %rsp\n"
  "  popq %rdi\n  popq %rsi\n  popq %rdx\n  popq %r10\n  popq %r8\n  popq %r9\n"
  "  popq %rbp\n"
  "  ret $128\n"
  "  .size wait_again, .-wait_again\n");
void wait_again(void);

/* What a thread was about to (re-)enter when it stopped: set on the thread
 * itself in its suspend handler, read there again when it is released. */
static __thread struct {
  int wrapped;   /* a wait for one child or group, in a wrapper */
  int direct;    /* any wait outside the wrappers */
  long id;       /* direct: its pid or group as the program knows it */
} stopped_in __attribute__((tls_model("initial-exec")));

static void thread_suspended(struct thread_rec *t) {
  stopped_in.wrapped = stopped_in.direct = 0;
  if (!t->uc) return;
  const greg_t *g = ((ucontext_t *)t->uc)->uc_mcontext.gregs;
  const unsigned char *ip = (const unsigned char *)g[REG_RIP];
  if (ip[0] != 0x0f || ip[1] != 0x05) return;   /* not at a syscall instruction */
  long nr = g[REG_RAX], first = g[REG_RDI], second = g[REG_RSI];
  if (nr != SYS_wait4 && nr != SYS_waitid) return;
  if (pid_in_translated_wait()) {
    if (nr == SYS_wait4) stopped_in.wrapped = (pid_t)first > 0 || (pid_t)first < -1;
    else stopped_in.wrapped = first == P_PID || first == P_PGID;
    return;
  }
  /* The table as it is now, before a restore replaces it, names the id. */
  stopped_in.direct = 1;
  if (nr == SYS_wait4) {
    pid_t pid = (pid_t)first;
    stopped_in.id = pid > 0 ? pid_to_virt(pid) : pid < -1 ? -group_to_virt(-pid) : pid;
  } else {
    stopped_in.id = first == P_PID ? pid_to_virt((pid_t)second) : first == P_PGID ? group_to_virt((pid_t)second) : second;
  }
}

static void thread_resuming(struct thread_rec *t, pid_t stopped_tid) {
  (void)stopped_tid;
  if (!t->restored || !t->uc) return;
  greg_t *g = ((ucontext_t *)t->uc)->uc_mcontext.gregs;
  if (stopped_in.wrapped) {
    g[REG_RAX] = -EINTR;   /* as if a signal had interrupted it */
    g[REG_RIP] += 2;       /* past the syscall instruction */
  } else if (stopped_in.direct) {
    g[REG_R11] = g[REG_RIP] + 2;
    g[REG_RCX] = stopped_in.id;
    g[REG_RIP] = (greg_t)wait_again;
  }
}

static const struct stasis_thread_hooks blocked_hooks = { NULL, thread_suspended, thread_resuming };
STASIS_REGISTER static void blocked_register(void) { stasis_register_thread_hooks(&blocked_hooks); }
#endif
