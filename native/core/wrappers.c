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
void stasis_siginfo_fixup(siginfo_t *si) { if (siginfo_fixup) siginfo_fixup(si); }

static void relay(int sig, siginfo_t *si, void *uc) {
  if (si && siginfo_fixup) siginfo_fixup(si);
  program_handlers[sig](sig, si, uc);
}

static int relayed(const struct sigaction *sa) {
  return (sa->sa_flags & SA_SIGINFO) && sa->sa_handler != SIG_DFL && sa->sa_handler != SIG_IGN;
}

API int sigaction(int sig, const struct sigaction *act, struct sigaction *old) {
  if (active() && sig == stasis_cfg.signal) {
    if (old) { memset(old, 0, sizeof *old); old->sa_handler = SIG_DFL; }
    return 0;
  }
  if (sig == SIGTERM) {
    int held = stasis_term_sigaction(act, old);
    if (held) return held < 0 ? -1 : 0;
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
