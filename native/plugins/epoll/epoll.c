/* epoll: the interest list from fdinfo ("tfd: N events: E data: D"), re-armed
 * with the same events and data after the descriptors it watches are back
 * (order 10). An epoll watching an epoll of a higher number (UCX nests them
 * in every MPICH rank) gets that watch at ALL_RESTORED (settle), once every
 * descriptor has its old number: epoll keys a watch by the number it was
 * added under. A watched descriptor that was closed or replaced since it was
 * added — epoll still watches the description, under a number that no longer
 * names it — refuses the checkpoint. */
#include "../../core/core.h"
#include "../fd/fdutil.h"
#include <stdio.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/stat.h>

#define MAX_EPOLLS 256
struct watch { int fd; uint32_t events; uint64_t data; int later; };
static struct { int first, count; } epolls[MAX_EPOLLS];
static int nepolls;
static struct watch *watches;     /* mmap'd, grows */
static size_t nwatches, watch_cap;

static int epoll_match(const struct stasis_fd *f) { return strcmp(f->target, "anon_inode:[eventpoll]") == 0; }

static int add_watch(struct watch w) {
  if (nwatches == watch_cap) {
    size_t cap = watch_cap ? watch_cap * 2 : 4096;
    struct watch *n = fdu_alloc(cap * sizeof *n);
    if (!n) return -1;
    if (watches) { memcpy(n, watches, nwatches * sizeof *n); fdu_free(watches, watch_cap * sizeof *n); }
    watches = n;
    watch_cap = cap;
  }
  watches[nwatches++] = w;
  return 0;
}

static int epoll_save(const struct stasis_fd *f) {
  if (nepolls >= MAX_EPOLLS) { stasis_fail("more than %d epoll descriptors", MAX_EPOLLS); return -1; }
  epolls[nepolls].first = nwatches;
  for (const char *l = strstr(f->fdinfo, "tfd:"); l; l = strstr(l + 4, "tfd:")) {
    int tfd;
    unsigned events;
    unsigned long long data, ino;
    const char *ino_at = strstr(l, "ino:");
    if (sscanf(l, "tfd: %d events: %x data: %llx", &tfd, &events, &data) != 3 || !ino_at ||
        sscanf(ino_at, "ino:%llx", &ino) != 1) {
      stasis_fail("fd %d (epoll): cannot read its interest list", f->fd);
      return -1;
    }
    struct stat st;
    char link[64], target[64] = "";
    snprintf(link, sizeof link, "/proc/self/fd/%d", tfd);
    ssize_t n = readlink(link, target, sizeof target - 1);
    if (n > 0) target[n] = 0;
    if (fstat(tfd, &st) < 0 || st.st_ino != ino) {
      stasis_fail("fd %d (epoll) watches fd %d, which was closed or replaced since: not supported", f->fd, tfd);
      return -1;
    }
    int later = tfd > f->fd && strcmp(target, "anon_inode:[eventpoll]") == 0;
    if (add_watch((struct watch){ tfd, events, data, later }) < 0) { stasis_fail("no memory for epoll fd %d", f->fd); return -1; }
  }
  epolls[nepolls].count = nwatches - epolls[nepolls].first;
  return nepolls++;
}

static int epoll_restore(const struct stasis_fd *f, int cookie) {
  int ep = epoll_create1(EPOLL_CLOEXEC);
  if (ep < 0) { stasis_fail("cannot make an epoll for fd %d: %s", f->fd, strerror(errno)); return -1; }
  for (int i = 0; i < epolls[cookie].count; i++) {
    struct watch *w = &watches[epolls[cookie].first + i];
    struct epoll_event ev = { .events = w->events, .data.u64 = w->data };
    if (w->later) continue;
    if (epoll_ctl(ep, EPOLL_CTL_ADD, w->fd, &ev) < 0) {
      stasis_fail("epoll fd %d: cannot watch fd %d again: %s", f->fd, w->fd, strerror(errno));
      close(ep);
      return -1;
    }
  }
  return ep;
}

/* The watches of epolls of a higher number, now that they are restored. */
static int epoll_settle(const struct stasis_fd *f, int cookie) {
  for (int i = 0; i < epolls[cookie].count; i++) {
    struct watch *w = &watches[epolls[cookie].first + i];
    struct epoll_event ev = { .events = w->events, .data.u64 = w->data };
    if (w->later && epoll_ctl(f->fd, EPOLL_CTL_ADD, w->fd, &ev) < 0)
      stasis_log("epoll fd %d: cannot watch epoll fd %d again: %s", f->fd, w->fd, strerror(errno));
  }
  return -1;
}

static void epoll_resume(void) { nepolls = 0; nwatches = 0; }

static const struct stasis_fd_kind epoll_kind = {
  .name = "epoll", .order = 10, .match = epoll_match, .save = epoll_save,
  .restore = epoll_restore, .resume = epoll_resume, .settle = epoll_settle,
};
STASIS_REGISTER static void epoll_register(void) { stasis_register_fd_kind(&epoll_kind); }
