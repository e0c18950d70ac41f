/* signalfd: the mask (fdinfo "sigmask:") and flags. Signals are queued on
 * the process, not on the descriptor, and a restored process starts with
 * none pending: those pending for the whole process (ShdPnd) that a
 * signalfd was waiting for are raised again at restart, once each (their
 * siginfo and the count of a queued real-time signal are not kept). */
#include "../../core/core.h"
#include "../fd/fdutil.h"
#include <signal.h>
#include <stdlib.h>
#include <sys/signalfd.h>

#define MAX_SIGNALFDS 256
static uint64_t masks[MAX_SIGNALFDS];
static int nmasks;
static uint64_t pending;           /* process-wide pending, within some mask */
static int raise_pending;          /* restore done: raise them at resume */
static char *status_buf;
static size_t status_cap;

static int signalfd_match(const struct stasis_fd *f) { return strcmp(f->target, "anon_inode:[signalfd]") == 0; }

static int signalfd_save(const struct stasis_fd *f) {
  if (nmasks >= MAX_SIGNALFDS) { stasis_fail("more than %d signalfds", MAX_SIGNALFDS); return -1; }
  const char *m = fdu_field(f->fdinfo, "sigmask:");
  if (!m) { stasis_fail("fd %d (signalfd): no mask in its fdinfo", f->fd); return -1; }
  masks[nmasks] = strtoull(m, NULL, 16);
  return nmasks++;
}

static int signalfd_save_end(void) {
  pending = 0;
  if (nmasks == 0 || fdu_slurp("/proc/self/status", &status_buf, &status_cap) < 0) return 0;
  const char *shd = fdu_field(status_buf, "ShdPnd:");
  uint64_t any = 0;
  for (int i = 0; i < nmasks; i++) any |= masks[i];
  if (shd) pending = strtoull(shd, NULL, 16) & any;
  return 0;
}

static int signalfd_restore(const struct stasis_fd *f, int cookie) {
  sigset_t set;
  sigemptyset(&set);
  for (int sig = 1; sig <= 64; sig++)
    if (masks[cookie] & (1ull << (sig - 1))) sigaddset(&set, sig);
  int fd = signalfd(-1, &set, SFD_CLOEXEC | (f->flags & O_NONBLOCK ? SFD_NONBLOCK : 0));
  if (fd < 0) { stasis_fail("cannot make a signalfd for fd %d: %s", f->fd, strerror(errno)); return -1; }
  raise_pending = 1;
  return fd;
}

/* At restart, after every thread has its mask again in the restored image. */
static void signalfd_resume(void) {
  if (raise_pending)
    for (int sig = 1; sig <= 64; sig++)
      if (pending & (1ull << (sig - 1))) kill(getpid(), sig);
  raise_pending = 0;
  pending = 0;
  nmasks = 0;
}

static const struct stasis_fd_kind signalfd_kind = {
  .name = "signalfd", .order = 0, .match = signalfd_match, .save = signalfd_save,
  .save_end = signalfd_save_end, .restore = signalfd_restore, .resume = signalfd_resume,
};
STASIS_REGISTER static void signalfd_register(void) { stasis_register_fd_kind(&signalfd_kind); }
