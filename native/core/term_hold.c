/* SIGTERM held for the job driver (STASIS_HOLD_TERM, set by `stasis run`
 * under a scheduler). At preemption or the time limit the scheduler's
 * SIGTERM reaches every process of the job at once, but the driver must
 * checkpoint them first (it ends them after the commit). So SIGTERM is taken
 * by a handler of ours and the program's disposition is kept aside
 * (sigaction reports it as the program set it):
 * - sent by a process of the job (`kill`, `timeout`, a shell's job control):
 *   the program's disposition acts at once, as without stasis;
 * - sent from outside (slurmstepd, pbs_mom): held. If no checkpoint comes
 *   within STASIS_TERM_WAIT (10) s it was no preemption and acts then;
 *   after a checkpoint it acts STASIS_TERM_DELAY (60) s later if the process
 *   still runs (more than the scheduler's grace before its SIGKILL): a
 *   program's own handler (mpirun's aborts the whole MPI job) must not run
 *   while the job is saved, nor after the restart;
 * - a restart forgets a held SIGTERM: it ended the job the image was of.
 * SIG_IGN is set for real: ignoring is what holding would do, and it is
 * inherited across exec and posix_spawn as the program expects. */
#include "core.h"
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static int term_held;
static long term_delay_s = 60, term_wait_s = 10;
static struct sigaction term_program;   /* the program's disposition while held */
static siginfo_t term_info;             /* the held SIGTERM, for the program's handler */
static volatile long term_at;           /* CLOCK_MONOTONIC second it came; 0: none held */
static volatile long ckpt_seen_at;      /* last SUSPEND or RESUME */
static volatile int ckpt_running;
static volatile int term_release;       /* the next SIGTERM is the held one, delivered */

static long now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec;
}

/* Whether /proc/PID/maps names libstasis (read with system calls only: we
 * are in a signal handler). */
static int maps_have_stasis(pid_t pid) {
  char path[48], buf[4096 + 16];
  static const char needle[] = "libstasis";
  const size_t keep = sizeof needle - 2;
  stasis_proc_path(path, pid, "maps");
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  size_t have = 0;
  ssize_t n;
  int found = 0, any = 0;
  while (!found && (n = read(fd, buf + have, sizeof buf - 1 - have)) > 0) {
    any = 1;
    have += (size_t)n;
    buf[have] = 0;
    found = memmem(buf, have, needle, sizeof needle - 1) != NULL;
    if (have > keep) { memmove(buf, buf + have - keep, keep); have = keep; }
  }
  close(fd);
  return found ? 1 : any ? 0 : -1;   /* -1: gone, or a zombie (no memory left) */
}

static pid_t parent_of(pid_t pid) {
  char buf[512], state;
  pid_t ppid;
  return stasis_proc_stat(pid, buf, sizeof buf, &state, &ppid) ? ppid : 0;
}

/* The sender runs with libstasis: a process of a job (`kill` that already
 * exited is a zombie: its parent, the shell, tells). */
static int sent_from_job(const siginfo_t *si) {
  if (si->si_code != SI_USER && si->si_code != SI_TKILL && si->si_code != SI_QUEUE) return 0;
  if (si->si_pid <= 0) return 0;   /* from another pid namespace: outside */
  int in = maps_have_stasis(si->si_pid);
  if (in < 0) {
    pid_t parent = parent_of(si->si_pid);
    in = parent > 0 && maps_have_stasis(parent) == 1;
  }
  return in == 1;
}

static void call_program_handler(siginfo_t *si, void *uc) {
  struct sigaction a = term_program;
  if (a.sa_flags & SA_RESETHAND) term_program.sa_handler = SIG_DFL;
  sigset_t old;
  syscall(SYS_rt_sigprocmask, SIG_BLOCK, &a.sa_mask, &old, 8);
  if (a.sa_flags & SA_SIGINFO) {
    stasis_siginfo_fixup(si);
    a.sa_sigaction(SIGTERM, si, uc);
  } else {
    a.sa_handler(SIGTERM);
  }
  syscall(SYS_rt_sigprocmask, SIG_SETMASK, &old, NULL, 8);
}

/* The default action: SIGTERM again with the default disposition. On a
 * program thread in our handler it is blocked until the handler returns. */
static void act_default(void) {
  struct sigaction dfl;
  memset(&dfl, 0, sizeof dfl);
  dfl.sa_handler = SIG_DFL;
  stasis_real_sigaction(SIGTERM, &dfl, NULL);
  syscall(SYS_kill, stasis_kernel_pid, SIGTERM);
}

static void hold_term_handler(int sig, siginfo_t *si, void *uc) {
  (void)sig;
  if (term_release) {   /* stasis_term_tick's: the held one */
    term_release = 0;
    siginfo_t held = term_info;
    call_program_handler(&held, uc);
    return;
  }
  if (sent_from_job(si)) {
    if (term_program.sa_handler == SIG_DFL) act_default();
    else if (term_program.sa_handler != SIG_IGN) call_program_handler(si, uc);
    return;
  }
  if (term_at) return;   /* one held is enough */
  term_info = *si;
  __atomic_store_n(&term_at, now_s(), __ATOMIC_SEQ_CST);
}

static int install_hold(void) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = hold_term_handler;
  sa.sa_flags = SA_RESTART | SA_SIGINFO;
  sigfillset(&sa.sa_mask);
  return stasis_real_sigaction(SIGTERM, &sa, NULL);
}

void stasis_hold_term(void) {
  const char *d = getenv("STASIS_TERM_DELAY"), *w = getenv("STASIS_TERM_WAIT");
  if (d && atol(d) > 0) term_delay_s = atol(d);
  if (w && atol(w) > 0) term_wait_s = atol(w);
  if (stasis_real_sigaction(SIGTERM, NULL, &term_program) < 0) return;
  if (term_program.sa_handler == SIG_IGN || install_hold() == 0) term_held = 1;
}

/* sigaction(SIGTERM) while held: 1 when answered here. */
int stasis_term_sigaction(const struct sigaction *act, struct sigaction *old) {
  if (!term_held) return 0;
  struct sigaction before = term_program;
  if (act) {
    int rc = act->sa_handler == SIG_IGN ? stasis_real_sigaction(SIGTERM, act, NULL) : install_hold();
    if (rc < 0) return -1;
    term_program = *act;
  }
  if (old) *old = before;
  return 1;
}

int stasis_term_watch(void) { return term_held; }

void stasis_term_checkpoint(int running) {
  ckpt_running = running;
  ckpt_seen_at = now_s();
}

/* The checkpoint thread, about once a second: a held SIGTERM that is due
 * acts. */
void stasis_term_tick(void) {
  long at = __atomic_load_n(&term_at, __ATOMIC_SEQ_CST);
  if (!at || ckpt_running) return;
  long now = now_s();
  int preempted = ckpt_seen_at >= at - 1;
  if (now < at + (preempted ? term_delay_s : term_wait_s)) return;
  term_at = 0;
  if (term_program.sa_handler == SIG_DFL) { act_default(); return; }
  if (term_program.sa_handler == SIG_IGN) return;
  term_release = 1;
  syscall(SYS_kill, stasis_kernel_pid, SIGTERM);   /* a program thread takes it: ours block every signal */
}

void stasis_term_restored(void) {
  term_at = 0;
  term_release = 0;
  ckpt_running = 0;
}
