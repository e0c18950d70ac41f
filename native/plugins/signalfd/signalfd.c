/* signalfd: the mask (fdinfo "sigmask:") and flags. Signals are queued on
 * the process or thread, not on the descriptor: those pending at the
 * checkpoint come back with every other pending signal (plugins/signal). */
#include "../../core/core.h"
#include "../fd/fdutil.h"
#include <signal.h>
#include <stdlib.h>
#include <sys/signalfd.h>

#define MAX_SIGNALFDS 256
static uint64_t masks[MAX_SIGNALFDS];
static int nmasks;

static int signalfd_match(const struct stasis_fd *f) { return strcmp(f->target, "anon_inode:[signalfd]") == 0; }

static int signalfd_save(const struct stasis_fd *f) {
  if (nmasks >= MAX_SIGNALFDS) { stasis_fail("more than %d signalfds", MAX_SIGNALFDS); return -1; }
  const char *m = fdu_field(f->fdinfo, "sigmask:");
  if (!m) { stasis_fail("fd %d (signalfd): no mask in its fdinfo", f->fd); return -1; }
  masks[nmasks] = strtoull(m, NULL, 16);
  return nmasks++;
}

static int signalfd_restore(const struct stasis_fd *f, int cookie) {
  sigset_t set;
  sigemptyset(&set);
  for (int sig = 1; sig <= 64; sig++)
    if (masks[cookie] & (1ull << (sig - 1))) sigaddset(&set, sig);
  int fd = signalfd(-1, &set, SFD_CLOEXEC | (f->flags & O_NONBLOCK ? SFD_NONBLOCK : 0));
  if (fd < 0) { stasis_fail("cannot make a signalfd for fd %d: %s", f->fd, strerror(errno)); return -1; }
  return fd;
}

/* The checkpoint is over: forget what was saved. */
static void signalfd_resume(void) { nmasks = 0; }

static const struct stasis_fd_kind signalfd_kind = {
  .name = "signalfd", .order = 0, .match = signalfd_match, .save = signalfd_save,
  .restore = signalfd_restore, .resume = signalfd_resume,
};
STASIS_REGISTER static void signalfd_register(void) { stasis_register_fd_kind(&signalfd_kind); }
