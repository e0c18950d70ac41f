/* Open file descriptions shared between processes of the job (inherited
 * across fork, or passed over a socket): parent and child share one file
 * offset, and a job script's `{ a; b; } > out` relies on it. Every holder
 * restores its own copy as usual (so a failure here costs sharing, never
 * the restart); then, when all processes of the job are restored and none
 * runs yet, each holder replaces its copy with the one restored by the
 * holder with the lowest pid (as the program knows pids), taken with
 * pidfd_getfd (pipes and ptys too: their kinds hand every holder the same
 * object, this makes their ends one description again, with shared flags). */
#include "../../core/core.h"
#include "../pid/pid.h"
#include "fdutil.h"
#include "fdtable.h"
#include <linux/kcmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/syscall.h>

struct leader { int fd; pid_t vpid; int their_fd; };
static struct leader leaders[MAX_FDS];
static int nleaders;

static int candidate(const struct fd_entry *e) {
  return e->dup_of < 0;
}

/* Our description at `e` is also fd `their_fd` of kernel process `pid`. */
static void consider(const struct fd_entry *e, pid_t pid, int their_fd, int *in_job) {
  pid_t me = (pid_t)syscall(SYS_getpid);
  if (syscall(SYS_kcmp, me, pid, KCMP_FILE, e->info.fd, their_fd) != 0) return;
  if (*in_job < 0) {
    char name[16];
    snprintf(name, sizeof name, "%d", (int)pid);
    *in_job = fdu_in_job(name);
  }
  if (!*in_job) return;
  pid_t vpid = pid_to_virt(pid);
  if (vpid >= pid_to_virt(me)) return;
  struct leader *l = leaders;
  while (l < leaders + nleaders && l->fd != e->info.fd) l++;
  if (l == leaders + nleaders) nleaders++;
  else if (l->vpid < vpid) return;
  *l = (struct leader){ e->info.fd, vpid, their_fd };
}

/* The process visit_fd last saw, and whether it is in the job (-1: not
 * looked up yet): a walk goes through one process's descriptors in a row. */
static char last_pid[16];
static int last_in_job;

/* Another process's descriptor: one of our descriptions too? */
static int visit_fd(const char *pid, const char *fd, const char *target, void *ctx) {
  (void)target;
  if (strcmp(pid, (const char *)ctx) == 0) return 0;
  if (strcmp(pid, last_pid) != 0) { snprintf(last_pid, sizeof last_pid, "%s", pid); last_in_job = -1; }
  char link[64];
  struct stat st;
  int have_stat = 0;
  snprintf(link, sizeof link, "/proc/%s/fd/%s", pid, fd);
  for (int i = 0; i < nfds; i++) {
    if (!candidate(&fds[i])) continue;
    if (!have_stat && stat(link, &st) < 0) return 0;
    have_stat = 1;
    if (fds[i].info.dev == st.st_dev && fds[i].info.ino == st.st_ino) consider(&fds[i], atoi(pid), atoi(fd), &last_in_job);
  }
  return 0;
}

void shared_find_leaders(void) {
  nleaders = 0;
  int any = 0;
  for (int i = 0; i < nfds && !any; i++) any = candidate(&fds[i]);
  if (!any) return;
  char me[16];
  snprintf(me, sizeof me, "%d", (int)syscall(SYS_getpid));
  last_pid[0] = 0;
  fdu_each_host_fd(visit_fd, me);
}

static int same_object(int a, int b) {
  struct stat sa, sb;
  char la[64], lb[64], ta[1024], tb[1024];
  if (fstat(a, &sa) < 0 || fstat(b, &sb) < 0 || (sa.st_mode & S_IFMT) != (sb.st_mode & S_IFMT)) return 0;
  snprintf(la, sizeof la, "/proc/self/fd/%d", a);
  snprintf(lb, sizeof lb, "/proc/self/fd/%d", b);
  ssize_t na = readlink(la, ta, sizeof ta), nb = readlink(lb, tb, sizeof tb);
  return na > 0 && na == nb && memcmp(ta, tb, (size_t)na) == 0;
}

static void take_over(const struct leader *l) {
  pid_t pid = pid_to_real(l->vpid);
  int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
  int theirs = pidfd < 0 ? -1 : (int)syscall(SYS_pidfd_getfd, pidfd, l->their_fd, 0);
  int err = errno;
  if (pidfd >= 0) close(pidfd);
  if (theirs < 0 || !same_object(theirs, l->fd)) {
    stasis_log("fd %d stays this process's own copy, not shared with process %d: %s", l->fd, (int)l->vpid,
               theirs < 0 ? strerror(err) : "it holds something else there");
    if (theirs >= 0) close(theirs);
    return;
  }
  for (int i = 0; i < nfds; i++)
    if (fds[i].info.fd == l->fd || fds[i].dup_of == l->fd)
      dup3(theirs, fds[i].info.fd, fds[i].info.cloexec ? O_CLOEXEC : 0);
  close(theirs);
}

void shared_take_over(void) {
  for (int i = 0; i < nleaders; i++) take_over(&leaders[i]);
  if (nleaders) stasis_debug("took over %d description(s) shared with other processes", nleaders);
}
