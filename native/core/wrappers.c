/* Interposed libc functions that keep the suspend signal ours: a program
 * may not block it or replace its handler, and threads are not created
 * half-way through a checkpoint. */
#include "core.h"
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

void stasis_creation_enter(void);
void stasis_creation_leave(void);

typedef int (*sigaction_fn)(int, const struct sigaction *, struct sigaction *);
typedef int (*sigmask_fn)(int, const sigset_t *, sigset_t *);
typedef int (*create_fn)(pthread_t *, const pthread_attr_t *, void *(*)(void *), void *);

static void *next(const char *name) { return dlsym(RTLD_NEXT, name); }

static int active(void) { return stasis_cfg.signal > 0; }

int stasis_real_sigaction(int sig, const struct sigaction *act, struct sigaction *old) {
  static sigaction_fn real;
  if (!real) real = (sigaction_fn)next("sigaction");
  return real(sig, act, old);
}

/* A handler that takes a siginfo is called through relay(), which first
 * lets a plugin fix the siginfo up (the pid plugin: a sender's or child's
 * kernel pid becomes the one the program knows). The program still sees
 * its own handler in what sigaction returns. */
typedef void (*info_handler)(int, siginfo_t *, void *);
static info_handler program_handlers[NSIG];
static void (*siginfo_fixup)(siginfo_t *);

void stasis_set_siginfo_fixup(void (*fn)(siginfo_t *)) { siginfo_fixup = fn; }

static void relay(int sig, siginfo_t *si, void *uc) {
  if (si && siginfo_fixup) siginfo_fixup(si);
  program_handlers[sig](sig, si, uc);
}

static int relayed(const struct sigaction *sa) {
  return (sa->sa_flags & SA_SIGINFO) && sa->sa_handler != SIG_DFL && sa->sa_handler != SIG_IGN;
}

/* Under `stasis run` in a batch job (STASIS_HOLD_TERM set), the scheduler's
 * SIGTERM at preemption or the time limit reaches every process of the job
 * at once, but the job driver must checkpoint them first (it kills them
 * after the commit; the scheduler's SIGKILL follows anyway). So SIGTERM is
 * held by a handler of ours and the program's disposition is kept aside
 * (sigaction reports it as the program set it). At the default or SIG_IGN
 * it does nothing. A program's own handler (mpirun's aborts the whole MPI
 * job: caught by the checkpoint, it did so again right after the restart)
 * runs only if the process still runs 60 s later (STASIS_TERM_DELAY, in
 * seconds: more than the scheduler's grace before its SIGKILL), when the
 * SIGTERM was not the job's end; the checkpoint thread watches the time
 * (stasis_term_tick). A restart forgets a held SIGTERM: it ended the job
 * the image was written in. */
static int term_held;
static long term_delay_s = 60;
static struct sigaction term_program;       /* the program's disposition while held */
static siginfo_t term_info;                 /* the held SIGTERM, for the program's handler */
static volatile long term_due;              /* CLOCK_MONOTONIC second it is delivered at; 0: none held */
static volatile int term_release;           /* the next SIGTERM is the held one, delivered */

static long now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec;
}

static void call_program_term(siginfo_t *si, void *uc) {
  struct sigaction a = term_program;
  if (a.sa_handler == SIG_DFL || a.sa_handler == SIG_IGN) return;
  if (a.sa_flags & SA_RESETHAND) term_program.sa_handler = SIG_DFL;
  sigset_t old;
  syscall(SYS_rt_sigprocmask, SIG_BLOCK, &a.sa_mask, &old, 8);
  if (a.sa_flags & SA_SIGINFO) {
    if (siginfo_fixup) siginfo_fixup(si);
    a.sa_sigaction(SIGTERM, si, uc);
  } else {
    a.sa_handler(SIGTERM);
  }
  syscall(SYS_rt_sigprocmask, SIG_SETMASK, &old, NULL, 8);
}

static void hold_term_handler(int sig, siginfo_t *si, void *uc) {
  (void)sig;
  if (term_release) {
    term_release = 0;
    siginfo_t held = term_info;
    call_program_term(&held, uc);
    return;
  }
  if (term_program.sa_handler == SIG_DFL || term_program.sa_handler == SIG_IGN || term_due) return;
  term_info = *si;
  __atomic_store_n(&term_due, now_s() + term_delay_s, __ATOMIC_SEQ_CST);
}

/* While SIGTERM is held at all: the program may set a handler while the
 * checkpoint thread already waits. */
int stasis_term_watch(void) { return term_held; }

void stasis_term_tick(void) {
  long due = __atomic_load_n(&term_due, __ATOMIC_SEQ_CST);
  if (!due || now_s() < due) return;
  term_due = 0;
  term_release = 1;
  syscall(SYS_kill, stasis_kernel_pid, SIGTERM);   /* a program thread takes it: ours block every signal */
}

void stasis_term_restored(void) {
  term_due = 0;
  term_release = 0;
}

static int hold_term(void) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = hold_term_handler;
  sa.sa_flags = SA_RESTART | SA_SIGINFO;
  sigfillset(&sa.sa_mask);
  return stasis_real_sigaction(SIGTERM, &sa, &term_program);
}

void stasis_hold_term(void) {
  const char *d = getenv("STASIS_TERM_DELAY");
  if (d && atol(d) > 0) term_delay_s = atol(d);
  if (hold_term() == 0) term_held = 1;
}

API int sigaction(int sig, const struct sigaction *act, struct sigaction *old) {
  if (active() && sig == stasis_cfg.signal) {
    if (old) { memset(old, 0, sizeof *old); old->sa_handler = SIG_DFL; }
    return 0;
  }
  if (sig == SIGTERM && term_held) {
    if (old) *old = term_program;
    if (act) term_program = *act;
    return 0;
  }
  if (sig <= 0 || sig >= NSIG || !siginfo_fixup) return stasis_real_sigaction(sig, act, old);
  info_handler before = program_handlers[sig];
  struct sigaction through_relay;
  if (act && relayed(act) && act->sa_sigaction != relay) {   /* relay: read around this wrapper */
    program_handlers[sig] = act->sa_sigaction;
    through_relay = *act;
    through_relay.sa_sigaction = relay;
    act = &through_relay;
  }
  int rc = stasis_real_sigaction(sig, act, old);
  if (rc < 0 && act == &through_relay) program_handlers[sig] = before;
  if (rc == 0 && old && relayed(old) && old->sa_sigaction == relay) old->sa_sigaction = before;
  return rc;
}

API sighandler_t signal(int sig, sighandler_t handler) {
  struct sigaction sa, old;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = handler;
  sa.sa_flags = SA_RESTART;
  if (sigaction(sig, &sa, &old) < 0) return SIG_ERR;
  return old.sa_handler;
}

static const sigset_t *without_ours(int how, const sigset_t *set, sigset_t *copy) {
  if (!set || !active() || how == SIG_UNBLOCK) return set;
  *copy = *set;
  sigdelset(copy, stasis_cfg.signal);
  return copy;
}

API int sigprocmask(int how, const sigset_t *set, sigset_t *old) {
  static sigmask_fn real;
  if (!real) real = (sigmask_fn)next("sigprocmask");
  sigset_t copy;
  return real(how, without_ours(how, set, &copy), old);
}

API int pthread_sigmask(int how, const sigset_t *set, sigset_t *old) {
  static sigmask_fn real;
  if (!real) real = (sigmask_fn)next("pthread_sigmask");
  sigset_t copy;
  return real(how, without_ours(how, set, &copy), old);
}

/* A thread started while a user plugin wants thread events runs its start
 * routine through started_thread(), which sends THREAD_START before it and
 * THREAD_EXIT when it ends: a cleanup handler, so pthread_exit() and
 * cancellation send it too, on the thread, before its TLS is freed. */
struct thread_start { void *(*fn)(void *); void *arg; };

static void thread_exit_event(void *unused) { (void)unused; plugins_thread_event(STASIS_EVENT_THREAD_EXIT); }

static void *started_thread(void *p) {
  struct thread_start start = *(struct thread_start *)p;
  free(p);
  void *ret;
  plugins_thread_event(STASIS_EVENT_THREAD_START);
  pthread_cleanup_push(thread_exit_event, NULL);
  ret = start.fn(start.arg);
  pthread_cleanup_pop(1);
  return ret;
}

API int pthread_create(pthread_t *th, const pthread_attr_t *attr, void *(*fn)(void *), void *arg) {
  static create_fn real;
  if (!real) real = (create_fn)next("pthread_create");
  if (!active()) return real(th, attr, fn, arg);
  struct thread_start *start = NULL;
  if (plugins_want_thread_events() && (start = malloc(sizeof *start))) {
    start->fn = fn;
    start->arg = arg;
  }
  stasis_creation_enter();
  int rc = start ? real(th, attr, started_thread, start) : real(th, attr, fn, arg);
  stasis_creation_leave();
  if (rc != 0) free(start);
  return rc;
}
