/* glibc functions that hand a thread's tid (from its struct pthread) to
 * the kernel themselves, inside libc where no wrapper can translate it:
 * after a restart that tid is the thread's virtual one (core/threads.c),
 * and the kernel answers ESRCH. pthread_getattr_np asks for the thread's
 * CPU affinity that way and fails as a whole: a JVM calls it on each
 * thread it attaches (at exit too), and aborts ("pthread_getattr_np failed
 * with error = 3"). Here the affinity calls go to the kernel with the
 * kernel's tid; pthread_getattr_np of the calling thread (what a JVM
 * asks) runs with the kernel's tid in its descriptor for the moment of
 * the call; about another thread it still fails after a restart. */
#include "../../core/core.h"
#include "pid.h"
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#define REAL(name) \
  static __typeof__(&name) real_##name; \
  if (!real_##name) real_##name = (__typeof__(&name))dlsym(RTLD_NEXT, #name)

static long tid_offset = -1;   /* of the tid in struct pthread */

STASIS_REGISTER static void find_tid_field(void) {
  pid_t *tidp = NULL;
  if (prctl(PR_GET_TID_ADDRESS, &tidp, 0, 0, 0) == 0 && tidp) tid_offset = (char *)tidp - (char *)pthread_self();
}

static volatile pid_t *tid_of(pthread_t t) { return (volatile pid_t *)((char *)t + tid_offset); }

/* The kernel's tid of another thread `t` now, or 0 when it has exited. */
static pid_t kernel_tid(pthread_t t) {
  pid_t v = *tid_of(t);
  return v > 0 ? pid_to_real(v) : 0;
}

/* A thread asking about itself names no tid (0: the caller): glibc's own
 * call reads it from the descriptor, and a checkpoint taken between that
 * read and the system call (a restart then runs the call again, with the
 * tid of the process that was) made it fail with ESRCH even before the
 * first restart had made any tid virtual. */
API int pthread_getaffinity_np(pthread_t t, size_t size, cpu_set_t *set) {
  REAL(pthread_getaffinity_np);
  int self = pthread_equal(t, pthread_self());
  if (!self && (!pid_is_translating() || tid_offset < 0)) return real_pthread_getaffinity_np(t, size, set);
  pid_t tid = self ? 0 : kernel_tid(t);
  if (!self && !tid) return ESRCH;
  long n = syscall(SYS_sched_getaffinity, tid, size, set);
  if (n < 0) return errno;
  memset((char *)set + n, 0, size - (size_t)n);
  return 0;
}

API int pthread_setaffinity_np(pthread_t t, size_t size, const cpu_set_t *set) {
  REAL(pthread_setaffinity_np);
  int self = pthread_equal(t, pthread_self());
  if (!self && (!pid_is_translating() || tid_offset < 0)) return real_pthread_setaffinity_np(t, size, set);
  pid_t tid = self ? 0 : kernel_tid(t);
  if (!self && !tid) return ESRCH;
  return syscall(SYS_sched_setaffinity, tid, size, set) < 0 ? errno : 0;
}

API int pthread_getattr_np(pthread_t t, pthread_attr_t *attr) {
  REAL(pthread_getattr_np);
  if (!pid_is_translating() || tid_offset < 0) return real_pthread_getattr_np(t, attr);
  /* Only a thread's own: another one's tid field is the kernel's to clear
   * when it exits (pthread_join waits for that), and must not be written. */
  if (!pthread_equal(t, pthread_self())) return real_pthread_getattr_np(t, attr);
  pid_t virt = *tid_of(t), tid = (pid_t)syscall(SYS_gettid);
  if (virt <= 0 || tid == virt) return real_pthread_getattr_np(t, attr);
  *tid_of(t) = tid;
  int rc = real_pthread_getattr_np(t, attr);
  *tid_of(t) = virt;
  return rc;
}
