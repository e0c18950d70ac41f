/* The pid a signal names as its sender (or a SIGCHLD its child) is the
 * kernel's; the program gets the one it knows — in a SA_SIGINFO handler
 * (through the core's relay) and from sigwaitinfo/sigtimedwait. Other
 * codes use the field otherwise (a timer's id, a fault's address). */
#include "../../core/core.h"
#include "pid.h"
#include <dlfcn.h>

static int names_pid(const siginfo_t *si) {
  return si->si_code == SI_USER || si->si_code == SI_QUEUE || si->si_code == SI_TKILL ||
         (si->si_signo == SIGCHLD && si->si_code > 0);
}

void pid_sender_to_virt(siginfo_t *si) {
  if (names_pid(si) && si->si_pid > 0) si->si_pid = pid_to_virt(si->si_pid);
}

void pid_sender_to_real(siginfo_t *si) {
  if (names_pid(si) && si->si_pid > 0) si->si_pid = pid_to_real(si->si_pid);
}

static int taken(int sig, siginfo_t *info) {
  if (sig > 0 && info) pid_sender_to_virt(info);
  return sig;
}

API int sigwaitinfo(const sigset_t *set, siginfo_t *info) {
  static __typeof__(&sigwaitinfo) real;
  if (!real) real = (__typeof__(&sigwaitinfo))dlsym(RTLD_NEXT, "sigwaitinfo");
  return taken(real(set, info), info);
}

API int sigtimedwait(const sigset_t *set, siginfo_t *info, const struct timespec *timeout) {
  static __typeof__(&sigtimedwait) real;
  if (!real) real = (__typeof__(&sigtimedwait))dlsym(RTLD_NEXT, "sigtimedwait");
  return taken(real(set, info, timeout), info);
}

STASIS_REGISTER static void siginfo_register(void) { stasis_set_siginfo_fixup(pid_sender_to_virt); }
