/* fork(): the child joins the job before either side runs on. The parent
 * holds thread creation (so no checkpoint can start in between) until the
 * child's own checkpoint thread is welcomed by the coordinator; a
 * checkpoint therefore sees both processes or neither. A child whose new
 * pid is ambiguous (someone's virtual pid, or a kernel pid the table still
 * maps: pid_is_ambiguous) leaves at once and the parent forks again. */
#include "../../core/core.h"
#include "../pid/pid.h"
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define JOIN_TIMEOUT_MS 10000

static pid_t (*real_fork)(void);

/* The child, too, cannot be stopped until it has told its parent (a
 * checkpoint reaching it first would wait for the parent, which waits for
 * it, and would find the report pipe). */
static void child_joins(int report_fd) {
  pid_forked_child();
  stasis_creation_enter();
  ckpt_start_thread();
  char ok = ckpt_wait_connected(JOIN_TIMEOUT_MS) == 0 ? 1 : 0;
  if (!ok) stasis_log("forked child could not join the coordinator; it runs without checkpoints");
  while (write(report_fd, &ok, 1) < 0 && errno == EINTR) {}
  close(report_fd);
  stasis_creation_leave();
}

static void parent_waits(int report_fd) {
  char ok;
  while (read(report_fd, &ok, 1) < 0 && errno == EINTR) {}   /* EOF: the child died */
  close(report_fd);
}

/* A child of a process without coordinator (gone, or never reached) still
 * gets its checkpoint thread: it joins when a coordinator is back. */
static pid_t plain_fork(void) {
  pid_t pid = real_fork();
  if (pid == 0) {
    pid_forked_child();
    if (stasis_cfg.signal) ckpt_start_thread();
  }
  return pid;
}

static pid_t fork_once(void) {
  if (!stasis_cfg.signal) return plain_fork();   /* not under a coordinator */
  ckpt_wait_connected(JOIN_TIMEOUT_MS);           /* a program may fork before we have connected */
  if (coord_fd < 0) return plain_fork();
  int sync[2];
  if (pipe2(sync, O_CLOEXEC) < 0) return plain_fork();
  stasis_creation_enter();
  pid_t pid = real_fork();
  if (pid == 0) {
    close(sync[0]);
    if (pid_is_ambiguous((pid_t)syscall(SYS_getpid))) _exit(0);   /* ambiguous: parent retries */
    child_joins(sync[1]);
    return 0;
  }
  close(sync[1]);
  if (pid > 0) parent_waits(sync[0]); else close(sync[0]);
  stasis_creation_leave();
  return pid;
}

API pid_t fork(void) {
  if (!real_fork) real_fork = (pid_t (*)(void))dlsym(RTLD_NEXT, "fork");
  for (int tries = 0;; tries++) {
    pid_t pid = fork_once();
    if (pid <= 0 || !pid_is_ambiguous(pid) || tries >= 100) return pid;
    syscall(SYS_wait4, pid, NULL, 0, NULL);   /* a kernel pid: not through the table */
  }
}
