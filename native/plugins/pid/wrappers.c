/* libc functions that take or return pids, translated through the table
 * (pid.c). Negative pids name process groups; 0 and -1 mean "mine" and
 * "all" and pass unchanged. */
#include "../../core/core.h"
#include "pid.h"
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <sys/prctl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <stdio.h>
#include <string.h>
#include <termios.h>
#include <sys/ioctl.h>
#include <unistd.h>

/* The next definition of `name` (libc's), looked up once. */
#define REAL(name) \
  static __typeof__(&name) real_##name; \
  if (!real_##name) real_##name = (__typeof__(&name))dlsym(RTLD_NEXT, #name)

static pid_t to_real_target(pid_t pid) {
  if (pid > 0) return pid_to_real(pid);
  if (pid < -1) return -group_to_real(-pid);
  return pid;
}

static pid_t to_virt_target(pid_t pid) {
  if (pid > 0) return pid_to_virt(pid);
  if (pid < -1) return -group_to_virt(-pid);
  return pid;
}

API pid_t getpid(void) { return pid_to_virt((pid_t)syscall(SYS_getpid)); }
API pid_t getppid(void) { return pid_to_virt((pid_t)syscall(SYS_getppid)); }
API pid_t gettid(void) { return pid_to_virt((pid_t)syscall(SYS_gettid)); }

API int kill(pid_t pid, int sig) { return (int)syscall(SYS_kill, to_real_target(pid), sig); }
API int killpg(pid_t pgrp, int sig) { return kill(-pgrp, sig); }
API int tgkill(pid_t tgid, pid_t tid, int sig) { return (int)syscall(SYS_tgkill, pid_to_real(tgid), pid_to_real(tid), sig); }

API int sigqueue(pid_t pid, int sig, const union sigval value) {
  REAL(sigqueue);
  return real_sigqueue(pid_to_real(pid), sig, value);
}

API int pidfd_open(pid_t pid, unsigned int flags) { return (int)syscall(SYS_pidfd_open, pid_to_real(pid), flags); }

/* Cross-memory attach (UCX's cma transport between MPI ranks on a node):
 * the peer's pid is the one it told the program, its virtual pid. */
API ssize_t process_vm_readv(pid_t pid, const struct iovec *local, unsigned long nlocal, const struct iovec *remote,
                             unsigned long nremote, unsigned long flags) {
  return syscall(SYS_process_vm_readv, pid_to_real(pid), local, nlocal, remote, nremote, flags);
}
API ssize_t process_vm_writev(pid_t pid, const struct iovec *local, unsigned long nlocal, const struct iovec *remote,
                              unsigned long nremote, unsigned long flags) {
  return syscall(SYS_process_vm_writev, pid_to_real(pid), local, nlocal, remote, nremote, flags);
}

/* A wait for a given child or group passes the kernel id of when it was
 * called. When the process is restored meanwhile (blocked.c) that id is
 * stale: the call failed (EINTR, ECHILD) and is made again, translated
 * again. A program's own EINTR in the same instant is absorbed. */
static int restarts(void) { return __atomic_load_n(&stasis_restored, __ATOMIC_SEQ_CST); }
static int restored_since(int before) { return restarts() != before; }

/* Set while a thread is inside one of the waits below: blocked.c tells
 * these (made again here) from waits the program or glibc made directly. */
static __thread int translating_wait __attribute__((tls_model("initial-exec")));
int pid_in_translated_wait(void) { return translating_wait; }

static pid_t wait4_translated(pid_t pid, int *status, int options, struct rusage *ru) {
  REAL(wait4);   /* a cancellation point, as the program expects */
  int outer = translating_wait;
  translating_wait = 1;
  pid_t r;
  for (;;) {
    int before = restarts();
    r = real_wait4(to_real_target(pid), status, options, ru);
    if (r >= 0 || !restored_since(before)) break;
  }
  translating_wait = outer;
  return to_virt_target(r);
}

/* The kernel's waitid also takes a rusage, which glibc's does not pass. */
static int waitid_translated(idtype_t type, id_t id, siginfo_t *info, int options, struct rusage *ru) {
  REAL(waitid);
  int outer = translating_wait;
  translating_wait = 1;
  int rc;
  for (;;) {
    int before = restarts();
    id_t real_id = id;
    if (type == P_PID) real_id = (id_t)pid_to_real((pid_t)id);
    if (type == P_PGID) real_id = (id_t)group_to_real((pid_t)id);
    rc = ru ? (int)syscall(SYS_waitid, type, real_id, info, options, ru) : real_waitid(type, real_id, info, options);
    if (rc == 0 || !restored_since(before)) break;
  }
  translating_wait = outer;
  if (rc == 0 && info && info->si_pid) info->si_pid = pid_to_virt(info->si_pid);
  return rc;
}

API pid_t wait4(pid_t pid, int *status, int options, struct rusage *ru) { return wait4_translated(pid, status, options, ru); }
API pid_t waitpid(pid_t pid, int *status, int options) { return wait4_translated(pid, status, options, NULL); }
API pid_t wait3(int *status, int options, struct rusage *ru) { return wait4_translated(-1, status, options, ru); }
API pid_t wait(int *status) { return wait4_translated(-1, status, 0, NULL); }
API int waitid(idtype_t type, id_t id, siginfo_t *info, int options) { return waitid_translated(type, id, info, options, NULL); }

/* A wait4 or waitid syscall that was interrupted outside the wrappers (in
 * glibc's system(), pclose(), wait3 or a raw syscall()) and is now made
 * again in a restored process (blocked.c): `id` is its pid or group as the
 * program knows it, args[] the syscall's registers. Returns what the
 * syscall would have (-errno on failure), with virtual ids. Never EINTR:
 * glibc would retry with the id it has, which the kernel does not know.
 * Not a cancellation point: no unwinder can walk through blocked.c's
 * entry; a cancellation waits for the next one. */
long pid_wait_again(long nr, long id, const long *args) {
  int saved_errno = errno, cancel;
  pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &cancel);
  long r;
  do {
    if (nr == SYS_wait4) r = wait4_translated((pid_t)id, (int *)args[1], (int)args[2], (struct rusage *)args[3]);
    else r = waitid_translated((idtype_t)args[0], (id_t)id, (siginfo_t *)args[2], (int)args[3], (struct rusage *)args[4]);
  } while (r < 0 && errno == EINTR);
  if (r < 0) r = -errno;
  pthread_setcancelstate(cancel, NULL);
  errno = saved_errno;
  return r;
}

/* The group and session calls are plain system calls (ioctls for the
 * terminal ones), made here without looking libc's up: the checkpoint
 * thread calls them while the program's threads are stopped, and one may
 * be stopped inside dlsym, holding the lock dlsym takes. */
static long checked(long r) {
  if (r < 0) { errno = (int)-r; return -1; }
  return r;
}
static long raw(long nr, long a, long b) {
  long r = syscall(nr, a, b);
  return r < 0 ? -errno : r;
}

API pid_t getpgid(pid_t pid) {
  pid_t r = (pid_t)checked(raw(SYS_getpgid, pid_to_real(pid), 0));
  return r > 0 ? group_to_virt(r) : r;
}

API pid_t getpgrp(void) { return getpgid(0); }

API int setpgid(pid_t pid, pid_t pgid) {
  return (int)checked(raw(SYS_setpgid, pid_to_real(pid), group_to_real(pgid)));
}

API pid_t getsid(pid_t pid) {
  pid_t r = (pid_t)checked(raw(SYS_getsid, pid_to_real(pid), 0));
  return r > 0 ? group_to_virt(r) : r;
}

API pid_t tcgetpgrp(int fd) {
  pid_t r;
  if (ioctl(fd, TIOCGPGRP, &r) < 0) return -1;
  return r > 0 ? group_to_virt(r) : r;
}

API int tcsetpgrp(int fd, pid_t pgrp) {
  pid_t real = group_to_real(pgrp);
  return ioctl(fd, TIOCSPGRP, &real);
}

API pid_t tcgetsid(int fd) {
  pid_t r;
  if (ioctl(fd, TIOCGSID, &r) < 0) return -1;
  return r > 0 ? pid_to_virt(r) : r;
}

/* glibc keeps each thread's tid in its struct pthread, and after a restart
 * that is the virtual tid (see core/threads.c). Where glibc hands it to the
 * kernel itself, the call is made here with the kernel's tid instead. Before
 * the first restart the two are the same and glibc does it. */
static long tid_offset = -1;   /* of the tid in struct pthread */

STASIS_REGISTER static void find_tid_field(void) {
  pid_t *tidp = NULL;
  if (prctl(PR_GET_TID_ADDRESS, &tidp, 0, 0, 0) == 0 && tidp)
    tid_offset = (char *)tidp - (char *)pthread_self();
}

API int pthread_kill(pthread_t thread, int sig) {
  REAL(pthread_kill);
  if (!pid_is_translating() || tid_offset < 0) return real_pthread_kill(thread, sig);
  pid_t vtid = *(volatile pid_t *)((char *)thread + tid_offset);
  if (vtid <= 0) return ESRCH;   /* it has exited */
  if (syscall(SYS_tgkill, syscall(SYS_getpid), pid_to_real(vtid), sig) < 0) return errno;
  return 0;
}

API int raise(int sig) {
  REAL(raise);
  if (!pid_is_translating()) return real_raise(sig);
  return (int)syscall(SYS_tgkill, syscall(SYS_getpid), syscall(SYS_gettid), sig);
}

API int pthread_sigqueue(pthread_t thread, int sig, const union sigval value) {
  REAL(pthread_sigqueue);
  if (!pid_is_translating() || tid_offset < 0) return real_pthread_sigqueue(thread, sig, value);
  pid_t vtid = *(volatile pid_t *)((char *)thread + tid_offset);
  if (vtid <= 0) return ESRCH;
  siginfo_t si;
  memset(&si, 0, sizeof si);
  si.si_signo = sig;
  si.si_code = SI_QUEUE;
  si.si_pid = getpid();   /* the sender as the program knows it */
  si.si_uid = getuid();
  si.si_value = value;
  if (syscall(SYS_rt_tgsigqueueinfo, syscall(SYS_getpid), pid_to_real(vtid), sig, &si) < 0) return errno;
  return 0;
}

/* popen keeps its child's pid in the FILE it returns, where pclose's
 * internal wait finds it: glibc's struct _IO_proc_file, right after the
 * FILE and its vtable pointer. That pid is the child's id as first seen
 * (virtual); pclose is handed the kernel's id of now. The place is checked
 * at a popen, until once it holds a child of this process. */
#define POPEN_PID(f) ((pid_t *)((char *)(f) + sizeof(FILE) + sizeof(void *)))
static int popen_pid_known;

static int is_my_child(pid_t pid) {
  siginfo_t si;
  si.si_pid = 0;
  return pid > 0 && syscall(SYS_waitid, P_PID, pid, &si, WEXITED | WNOHANG | WNOWAIT, NULL) == 0;
}

API FILE *popen(const char *command, const char *mode) {
  REAL(popen);
  FILE *f = real_popen(command, mode);
  if (f && !popen_pid_known) popen_pid_known = is_my_child(*POPEN_PID(f));
  return f;
}

API int pclose(FILE *f) {
  REAL(pclose);
  if (f && popen_pid_known) *POPEN_PID(f) = pid_to_real(*POPEN_PID(f));
  return real_pclose(f);
}
