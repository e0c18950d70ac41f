/* POSIX timers (timer_create): every timer of the process, as the kernel
 * lists it in /proc/self/timers — id, clock, signal, value, whom it
 * notifies — so timers made by any means are seen, glibc's SIGEV_THREAD
 * ones too (a kernel timer that signals glibc's helper thread, with a
 * pointer to glibc's record as its value: that memory is in the image).
 * At SAVE each timer's time left and interval are read; at RESTART each is
 * created again with the same id (prctl PR_TIMER_CREATE_RESTORE_IDS, Linux
 * 6.17+; on older kernels by creating timers in id order until the id comes
 * up) and set to run for the time that was left. A signal the timer had
 * already queued comes back with the other pending signals (plugins/signal).
 *
 * SIGEV_THREAD is refused: glibc's helper thread, started by the first such
 * timer and alive from then on, blocks every signal, so the process can no
 * longer be stopped. */
#include "../../core/core.h"
#include "../fd/fdutil.h"
#include "../pid/pid.h"
#include <dlfcn.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <time.h>

#ifndef PR_TIMER_CREATE_RESTORE_IDS   /* linux/prctl.h of Linux 6.17 */
#define PR_TIMER_CREATE_RESTORE_IDS 77
#define PR_TIMER_CREATE_RESTORE_IDS_OFF 0
#define PR_TIMER_CREATE_RESTORE_IDS_ON 1
#endif

#define MAX_TIMERS 1024
struct posix_timer {
  int id, clock, signo, notify;
  void *value;
  pid_t thread;              /* SIGEV_THREAD_ID: its kernel tid at the checkpoint */
  struct itimerspec left;
};
static struct posix_timer timers[MAX_TIMERS];
static int ntimers;
static char *text;
static size_t text_cap;

static long field(const char *block, const char *key, int base, const char **end) {
  const char *p = strstr(block, key);
  if (!p) return -1;
  char *e;
  long v = strtol(p + strlen(key), &e, base);
  if (end) *end = e;
  return v;
}

static int known_thread(pid_t tid) {
  for (int i = 0; i < stasis_nthreads; i++)
    if (!stasis_threads[i].is_ckpt && stasis_threads[i].tid == tid) return 1;
  return 0;
}

/* One "ID: ..." block of /proc/self/timers (Linux's show_timer). */
static int parse_timer(const char *b, struct posix_timer *t) {
  t->id = (int)field(b, "ID: ", 10, NULL);
  t->clock = (int)field(b, "ClockID: ", 10, NULL);
  const char *s = strstr(b, "signal: ");
  const char *n = strstr(b, "notify: ");
  if (!s || !n) { stasis_fail("cannot read /proc/self/timers"); return -1; }
  char *e;
  t->signo = (int)strtol(s + 8, &e, 10);
  t->value = (void *)(uintptr_t)strtoull(e + 1, NULL, 16);
  n += 8;
  int by_tid = strstr(n, "/tid.") && strstr(n, "/tid.") < strchr(n, '\n');
  if (strncmp(n, "none/", 5) == 0) t->notify = SIGEV_NONE;
  else if (strncmp(n, "signal/", 7) == 0) t->notify = by_tid ? SIGEV_SIGNAL | SIGEV_THREAD_ID : SIGEV_SIGNAL;
  else { stasis_fail("POSIX timer %d: notification '%.20s' not supported", t->id, n); return -1; }
  t->thread = by_tid ? (pid_t)strtol(strchr(n, '.') + 1, NULL, 10) : 0;
  if (by_tid && !known_thread(t->thread)) {
    stasis_fail("POSIX timer %d signals thread %d, which is no thread of the process", t->id, t->thread);
    return -1;
  }
  /* These measure one thread's or another process's CPU time: the clock
   * would have to be bound to that task again. */
  if (t->clock == CLOCK_THREAD_CPUTIME_ID || t->clock < 0) {
    stasis_fail("POSIX timer %d on CPU clock %d (a thread's or another process's): not supported", t->id, t->clock);
    return -1;
  }
  if (syscall(SYS_timer_gettime, t->id, &t->left) < 0) {
    stasis_fail("POSIX timer %d: timer_gettime: %s", t->id, strerror(errno));
    return -1;
  }
  return 0;
}

static int save_timers(void) {
  ntimers = 0;
  ssize_t len = fdu_slurp("/proc/self/timers", &text, &text_cap);
  if (len < 0) return 0;   /* no such file (kernel without CONFIG_CHECKPOINT_RESTORE): none known */
  for (char *b = strstr(text, "ID: "); b; b = strstr(b + 4, "\nID: ")) {
    if (*b == '\n') b++;
    if (ntimers == MAX_TIMERS) { stasis_fail("more than %d POSIX timers", MAX_TIMERS); return -1; }
    if (parse_timer(b, &timers[ntimers]) < 0) return -1;
    ntimers++;
  }
  /* In id order, as the fallback creates them. */
  for (int i = 1; i < ntimers; i++)
    for (int j = i; j > 0 && timers[j - 1].id > timers[j].id; j--) {
      struct posix_timer tmp = timers[j]; timers[j] = timers[j - 1]; timers[j - 1] = tmp;
    }
  return 0;
}

static pid_t tid_now(pid_t then) {
  for (int i = 0; i < stasis_nthreads; i++)
    if (stasis_threads[i].saved_tid == then) return stasis_threads[i].tid;
  return -1;
}

/* Creates the timer with its old id; ids created on the way (fallback) go
 * into `extra` for deletion. */
static int create_with_id(const struct posix_timer *t, int exact, int *extra, int *nextra) {
  struct sigevent ev;
  memset(&ev, 0, sizeof ev);
  ev.sigev_notify = t->notify;
  ev.sigev_signo = t->signo;
  ev.sigev_value.sival_ptr = t->value;
  if (t->notify & SIGEV_THREAD_ID) ev._sigev_un._tid = tid_now(t->thread);
  for (;;) {
    int id = t->id;
    if (syscall(SYS_timer_create, t->clock, &ev, &id) < 0) return -1;
    if (id == t->id) return 0;
    if (exact || id > t->id || *nextra == MAX_TIMERS) { syscall(SYS_timer_delete, id); errno = EEXIST; return -1; }
    extra[(*nextra)++] = id;
  }
}

static int restore_timers(void) {
  if (ntimers == 0) return 0;
  static int extra[MAX_TIMERS];
  int nextra = 0, rc = 0;
  int exact = prctl(PR_TIMER_CREATE_RESTORE_IDS, PR_TIMER_CREATE_RESTORE_IDS_ON, 0, 0, 0) == 0;
  for (int i = 0; i < ntimers && rc == 0; i++) {
    const struct posix_timer *t = &timers[i];
    if (create_with_id(t, exact, extra, &nextra) < 0) {
      stasis_fail("cannot create POSIX timer %d again: %s", t->id, strerror(errno));
      rc = -1;
    } else if ((t->left.it_value.tv_sec || t->left.it_value.tv_nsec) &&
               syscall(SYS_timer_settime, t->id, 0, &t->left, NULL) < 0) {
      stasis_fail("cannot set POSIX timer %d: %s", t->id, strerror(errno));
      rc = -1;
    }
  }
  if (exact) prctl(PR_TIMER_CREATE_RESTORE_IDS, PR_TIMER_CREATE_RESTORE_IDS_OFF, 0, 0, 0);
  for (int i = 0; i < nextra; i++) syscall(SYS_timer_delete, extra[i]);
  stasis_debug("%d POSIX timers restored (%s ids)", ntimers, exact ? "exact" : "sequential");
  return rc;
}

static volatile int sigev_thread_used;

/* SIGEV_THREAD_ID names a thread by the tid the program knows (plugins/pid). */
API int timer_create(clockid_t clock, struct sigevent *ev, timer_t *id) {
  static __typeof__(&timer_create) real;
  if (!real) real = (__typeof__(&timer_create))dlsym(RTLD_NEXT, "timer_create");
  if (ev && ev->sigev_notify == SIGEV_THREAD) sigev_thread_used = 1;
  if (!ev || !(ev->sigev_notify & SIGEV_THREAD_ID) || !pid_is_translating()) return real(clock, ev, id);
  struct sigevent real_ev = *ev;
  real_ev._sigev_un._tid = pid_to_real(ev->_sigev_un._tid);
  return real(clock, &real_ev, id);
}

/* Before any thread is asked to stop: one of them never would. */
static int refuse_sigev_thread(void) {
  if (!sigev_thread_used) return 0;
  stasis_fail("it made a POSIX timer with SIGEV_THREAD: glibc's timer thread blocks every signal "
              "and cannot be stopped; not supported (use SIGEV_THREAD_ID or SIGEV_SIGNAL)");
  return -1;
}

static int timers_event(enum stasis_event ev) {
  if (ev == STASIS_EVENT_SAVE) return save_timers();
  if (ev == STASIS_EVENT_RESTART) return restore_timers();
  return 0;
}

static const struct stasis_plugin timers_plugin = { "timers", timers_event };
static const struct stasis_thread_hooks timers_hooks = { .begin = refuse_sigev_thread };
/* A forked child has no timers and no glibc timer thread (glibc starts a
 * new one for the child's first SIGEV_THREAD timer). */
static void forget_sigev_thread(void) { sigev_thread_used = 0; }

STASIS_REGISTER static void timers_register(void) {
  pthread_atfork(NULL, NULL, forget_sigev_thread);
  stasis_register_plugin(&timers_plugin);
  stasis_register_thread_hooks(&timers_hooks);
}
