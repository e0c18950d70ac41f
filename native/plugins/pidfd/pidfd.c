/* pidfds (pidfd_open, clone's CLONE_PIDFD): a handle on a process of the
 * job. The process it names gets a new kernel pid at a restart, known only
 * once the whole job is back, so restore() holds the number with a pidfd
 * of this process and settle() opens the real one at ALL_RESTORED. A pidfd
 * on a process outside the job, or on one already reaped, is refused: no
 * restart could give it back. */
#include "../../core/core.h"
#include "../fd/fdutil.h"
#include "../pid/pid.h"
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>

#ifndef PIDFD_NONBLOCK
#define PIDFD_NONBLOCK O_NONBLOCK
#endif
#define MAX_PIDFDS 1024
static pid_t saved[MAX_PIDFDS];   /* the process, as the program knows it */
static int nsaved;

static int pidfd_match(const struct stasis_fd *f) { return strcmp(f->target, "anon_inode:[pidfd]") == 0; }

static int pidfd_save(const struct stasis_fd *f) {
  if (nsaved >= MAX_PIDFDS) { stasis_fail("more than %d pidfds", MAX_PIDFDS); return -1; }
  const char *field = fdu_field(f->fdinfo, "Pid:");
  long pid = field ? strtol(field, NULL, 10) : 0;
  if (pid <= 0) {
    stasis_fail("fd %d is a pidfd of a process that has been reaped (or is in another pid namespace): not supported", f->fd);
    return -1;
  }
  char name[24], comm[64];
  snprintf(name, sizeof name, "%ld", pid);
  if (pid != syscall(SYS_getpid) && !fdu_in_job(name)) {
    fdu_comm_of(name, comm, sizeof comm);
    stasis_fail("fd %d is a pidfd of process %ld (%s), which is not in the job: not supported", f->fd, pid, comm);
    return -1;
  }
  saved[nsaved] = pid_to_virt((pid_t)pid);
  return nsaved++;
}

static int open_pidfd(pid_t pid, int flags) {
  return (int)syscall(SYS_pidfd_open, pid, (flags & O_NONBLOCK) ? PIDFD_NONBLOCK : 0);
}

/* A stand-in until the pid table is known (settle). */
static int pidfd_restore(const struct stasis_fd *f, int cookie) {
  (void)cookie;
  int fd = open_pidfd((pid_t)syscall(SYS_getpid), f->flags);
  if (fd < 0) stasis_fail("fd %d: cannot make a pidfd: %s", f->fd, strerror(errno));
  return fd;
}

static int pidfd_settle(const struct stasis_fd *f, int cookie) {
  int fd = open_pidfd(pid_to_real(saved[cookie]), f->flags);
  if (fd < 0) stasis_log("fd %d: pidfd of process %d: %s (it names this process instead)", f->fd, (int)saved[cookie], strerror(errno));
  return fd;
}

static void pidfd_resume(void) { nsaved = 0; }

static const struct stasis_fd_kind pidfd_kind = {
  .name = "pidfd", .order = 0, .match = pidfd_match, .save = pidfd_save,
  .restore = pidfd_restore, .resume = pidfd_resume, .settle = pidfd_settle,
};
STASIS_REGISTER static void pidfd_register(void) { stasis_register_fd_kind(&pidfd_kind); }
