/* timerfd: clock, time left and interval (timerfd_gettime), expirations
 * not yet read (ticks, put back with TFD_IOC_SET_TICKS), flags. A timer
 * set with TFD_TIMER_ABSTIME on a wall clock keeps its wall-clock deadline;
 * any other keeps the time that was left. */
#include "../../core/core.h"
#include "../fd/fdutil.h"
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/timerfd.h>
#include <time.h>

#ifndef TFD_IOC_SET_TICKS
#define TFD_IOC_SET_TICKS _IOW('T', 0, uint64_t)
#endif

#define MAX_TIMERFDS 1024
struct timer_rec {
  int clockid, settime_flags;
  uint64_t ticks;
  struct itimerspec value;   /* relative, or absolute when TFD_TIMER_ABSTIME kept */
};
static struct timer_rec saved[MAX_TIMERFDS];
static int nsaved;

static int timerfd_match(const struct stasis_fd *f) { return strcmp(f->target, "anon_inode:[timerfd]") == 0; }

static int wall_clock(int id) { return id == CLOCK_REALTIME || id == CLOCK_REALTIME_ALARM; }

/* Expirations not yet read, from a fresh fdinfo; -1 if it cannot be read. */
static long long ticks_now(int fd) {
  static char *buf;
  static size_t cap;
  char path[64];
  snprintf(path, sizeof path, "/proc/self/fdinfo/%d", fd);
  const char *ticks = fdu_slurp(path, &buf, &cap) < 0 ? NULL : fdu_field(buf, "ticks:");
  return ticks ? (long long)strtoull(ticks, NULL, 10) : -1;
}

static int timerfd_save(const struct stasis_fd *f) {
  if (nsaved >= MAX_TIMERFDS) { stasis_fail("more than %d timerfds", MAX_TIMERFDS); return -1; }
  struct timer_rec *t = &saved[nsaved];
  const char *clk = fdu_field(f->fdinfo, "clockid:");
  const char *fl = fdu_field(f->fdinfo, "settime flags:");
  /* Time left and expirations not read, as one state: a timer expiring
   * between the two reads would come back disarmed with no expiration (or
   * armed with one too many), so read until the count is the same on both
   * sides of timerfd_gettime. */
  long long before = ticks_now(f->fd), after = -1;
  for (int tries = 0; before >= 0 && tries < 100; tries++, before = after) {
    if (timerfd_gettime(f->fd, &t->value) < 0) break;
    if ((after = ticks_now(f->fd)) == before) break;
  }
  if (!clk || before < 0 || after != before) {
    stasis_fail("fd %d (timerfd): cannot read its state: %s", f->fd, strerror(errno));
    return -1;
  }
  t->clockid = atoi(clk);
  t->ticks = (uint64_t)after;
  t->settime_flags = fl ? (int)strtol(fl, NULL, 8) : 0;
  if (!wall_clock(t->clockid) || !(t->settime_flags & TFD_TIMER_ABSTIME)) t->settime_flags = 0;
  else if (t->value.it_value.tv_sec || t->value.it_value.tv_nsec) {
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    t->value.it_value.tv_sec += now.tv_sec;
    t->value.it_value.tv_nsec += now.tv_nsec;
    if (t->value.it_value.tv_nsec >= 1000000000L) { t->value.it_value.tv_sec++; t->value.it_value.tv_nsec -= 1000000000L; }
  }
  return nsaved++;
}

static int timerfd_restore(const struct stasis_fd *f, int cookie) {
  struct timer_rec *t = &saved[cookie];
  int fd = timerfd_create(t->clockid, TFD_CLOEXEC | (f->flags & O_NONBLOCK ? TFD_NONBLOCK : 0));
  if (fd < 0) { stasis_fail("cannot make a timerfd (clock %d) for fd %d: %s", t->clockid, f->fd, strerror(errno)); return -1; }
  if ((t->value.it_value.tv_sec || t->value.it_value.tv_nsec) && timerfd_settime(fd, t->settime_flags, &t->value, NULL) < 0) {
    stasis_fail("cannot set timerfd %d: %s", f->fd, strerror(errno));
    close(fd);
    return -1;
  }
  /* After settime, which clears them. */
  if (t->ticks && ioctl(fd, TFD_IOC_SET_TICKS, &t->ticks) < 0)
    stasis_log("timerfd %d: %llu expirations not read before the checkpoint are lost: %s",
               f->fd, (unsigned long long)t->ticks, strerror(errno));
  return fd;
}

static void timerfd_resume(void) { nsaved = 0; }

static const struct stasis_fd_kind timerfd_kind = {
  .name = "timerfd", .order = 0, .match = timerfd_match, .save = timerfd_save,
  .restore = timerfd_restore, .resume = timerfd_resume,
};
STASIS_REGISTER static void timerfd_register(void) { stasis_register_fd_kind(&timerfd_kind); }
