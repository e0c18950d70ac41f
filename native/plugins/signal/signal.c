/* Signal dispositions — every handler, flag and mask, read and set with the
 * raw system call so glibc's own signals (SIGCANCEL, SIGSETXID) come too —
 * and the three interval timers, which keep their remaining time.
 * Per-thread masks travel in each thread's signal frame (core); pending
 * signals are pending.c's. */
#include "../../core/core.h"
#include <signal.h>
#include <string.h>
#include <sys/time.h>
#include <sys/syscall.h>
#include <unistd.h>

struct kernel_sigaction {
  void *handler;
  unsigned long flags;
  void *restorer;
  uint64_t mask;
};

#define NSIGS 64
static struct kernel_sigaction actions[NSIGS + 1];

static struct itimerval timers[3];

static int skip(int sig) { return sig == SIGKILL || sig == SIGSTOP; }

static int signal_event(enum stasis_event ev) {
  if (ev == STASIS_EVENT_SAVE) {
    for (int sig = 1; sig <= NSIGS; sig++)
      if (!skip(sig)) syscall(SYS_rt_sigaction, sig, NULL, &actions[sig], 8);
    for (int t = 0; t < 3; t++) getitimer(t, &timers[t]);
  } else if (ev == STASIS_EVENT_RESTART) {
    for (int sig = 1; sig <= NSIGS; sig++)
      if (!skip(sig)) syscall(SYS_rt_sigaction, sig, &actions[sig], NULL, 8);
    for (int t = 0; t < 3; t++)
      if (timers[t].it_value.tv_sec || timers[t].it_value.tv_usec) setitimer(t, &timers[t], NULL);
  }
  return 0;
}

static const struct stasis_plugin signal_plugin = { "signal", signal_event };
STASIS_REGISTER static void signal_register(void) { stasis_register_plugin(&signal_plugin); }
