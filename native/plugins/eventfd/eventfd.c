/* eventfd: the counter (from fdinfo, read without consuming it) and the
 * EFD_SEMAPHORE / O_NONBLOCK flags. */
#include "../../core/core.h"
#include "../fd/fdutil.h"
#include <stdlib.h>
#include <sys/eventfd.h>

#define MAX_EVENTFDS 1024
static struct { uint64_t count; int semaphore; } saved[MAX_EVENTFDS];
static int nsaved;

static int eventfd_match(const struct stasis_fd *f) { return strcmp(f->target, "anon_inode:[eventfd]") == 0; }

static int eventfd_save(const struct stasis_fd *f) {
  if (nsaved >= MAX_EVENTFDS) { stasis_fail("more than %d eventfds", MAX_EVENTFDS); return -1; }
  const char *count = fdu_field(f->fdinfo, "eventfd-count:");
  const char *sem = fdu_field(f->fdinfo, "eventfd-semaphore:");
  if (!count) { stasis_fail("fd %d (eventfd): no counter in its fdinfo", f->fd); return -1; }
  saved[nsaved].count = strtoull(count, NULL, 16);
  saved[nsaved].semaphore = sem ? atoi(sem) : 0;   /* kernels before 6.5 do not tell */
  return nsaved++;
}

static int eventfd_restore(const struct stasis_fd *f, int cookie) {
  int flags = EFD_CLOEXEC | (saved[cookie].semaphore ? EFD_SEMAPHORE : 0) | (f->flags & O_NONBLOCK ? EFD_NONBLOCK : 0);
  int fd = eventfd(0, flags);
  if (fd < 0) { stasis_fail("cannot make an eventfd for fd %d: %s", f->fd, strerror(errno)); return -1; }
  uint64_t c = saved[cookie].count;
  if (c && write(fd, &c, sizeof c) != sizeof c) {
    stasis_fail("cannot set eventfd %d to %llu: %s", f->fd, (unsigned long long)c, strerror(errno));
    close(fd);
    return -1;
  }
  return fd;
}

static void eventfd_resume(void) { nsaved = 0; }

static const struct stasis_fd_kind eventfd_kind = {
  .name = "eventfd", .order = 0, .match = eventfd_match, .save = eventfd_save,
  .restore = eventfd_restore, .resume = eventfd_resume,
};
STASIS_REGISTER static void eventfd_register(void) { stasis_register_fd_kind(&eventfd_kind); }
