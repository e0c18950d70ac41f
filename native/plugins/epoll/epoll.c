/* epoll: the interest list from fdinfo ("tfd: N events: E data: D"), re-armed
 * with the same events and data after the descriptors it watches are back
 * (order 10). An epoll watching an epoll of a higher number (UCX nests them
 * in every MPICH rank) gets that watch at ALL_RESTORED (settle), once every
 * descriptor has its old number: epoll keys a watch by the number it was
 * added under. A watched descriptor that was closed or replaced since it was
 * added — epoll still watches the description, under a number that no longer
 * names it — refuses the checkpoint.
 *
 * Stdin, stdout and stderr come from whoever restarts the job: a pipe or a
 * terminal at the checkpoint may be a regular file or /dev/null now, which
 * epoll refuses (EPERM). An event loop that watched it (libuv: Node's
 * process.stdin) expects to go on doing so, and aborts when epoll_ctl
 * fails. So such a watch goes to a stand-in: the read end of a pipe whose
 * writer is closed, kept high, registered with the program's events and
 * data plus EPOLLONESHOT. It reports EPOLLHUP once; the loop wakes and
 * reads or writes the real descriptor, which never blocks (a file's data,
 * then end of file), as poll() would say of a file: always ready. The
 * program's later epoll_ctl on that number, refused for the same reason,
 * goes to the stand-in (re-armed once more by MOD or ADD, removed by DEL).
 * At the next checkpoint a watch on a stand-in is saved as the program's
 * watch on its number, with the events the program asked for. */
#include "../../core/core.h"
#include "../fd/fdutil.h"
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
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

/* Stand-ins, by the number they stand for (0, 1, 2). */
static struct stand_in { int reader; unsigned long long ino; uint32_t events; uint64_t data; } stand_ins[3];

/* libc's, looked up when the library loads: at RESTART a stopped thread
 * may hold a lock dlsym takes. */
typedef int (*epoll_ctl_fn)(int, int, int, struct epoll_event *);
static epoll_ctl_fn real_epoll_ctl;

/* The stand-in for `fd` (0..2) made in this process, or NULL. */
static struct stand_in *stand_in_of(int fd) {
  struct stat st;
  if (fd < 0 || fd > 2) return NULL;
  struct stand_in *s = &stand_ins[fd];
  return s->reader > 0 && fstat(s->reader, &st) == 0 && st.st_ino == s->ino ? s : NULL;
}

/* The number a stand-in with inode `ino` stands for, or -1. */
static int stood_for(unsigned long long ino) {
  for (int fd = 0; fd <= 2; fd++) if (stand_in_of(fd) && stand_ins[fd].ino == ino) return fd;
  return -1;
}

/* `op` on the stand-in for `fd`, making it if needed: 0, or -1 with errno. */
static int stand_in_ctl(int ep, int op, int fd, const struct epoll_event *ev) {
  struct stand_in *s = stand_in_of(fd);
  if (!s) {
    if (op == EPOLL_CTL_DEL) { errno = ENOENT; return -1; }
    int p[2];
    struct stat st;
    if (pipe2(p, O_CLOEXEC) < 0) return -1;
    close(p[1]);   /* no writer: EPOLLHUP */
    int reader = stasis_move_high(p[0]);
    if (fstat(reader, &st) < 0 || stasis_keep_fd(reader) < 0) { close(reader); errno = EMFILE; return -1; }
    s = &stand_ins[fd];
    s->reader = reader, s->ino = st.st_ino;
  }
  if (op == EPOLL_CTL_DEL) return real_epoll_ctl(ep, op, s->reader, NULL);
  s->events = ev->events, s->data = ev->data.u64;
  struct epoll_event once = { .events = ev->events | EPOLLONESHOT, .data.u64 = ev->data.u64 };
  if (real_epoll_ctl(ep, op, s->reader, &once) == 0) return 0;
  if (op == EPOLL_CTL_MOD && errno == ENOENT) return real_epoll_ctl(ep, EPOLL_CTL_ADD, s->reader, &once);
  if (op == EPOLL_CTL_ADD && errno == EEXIST) return real_epoll_ctl(ep, EPOLL_CTL_MOD, s->reader, &once);
  return -1;
}

/* The program's epoll_ctl: what the kernel refuses on a stdio number that
 * has a stand-in goes to the stand-in. Everything else is untouched. */
API int epoll_ctl(int ep, int op, int fd, struct epoll_event *ev) {
  if (!real_epoll_ctl) real_epoll_ctl = (epoll_ctl_fn)dlsym(RTLD_NEXT, "epoll_ctl");   /* before our constructor */
  int rc = real_epoll_ctl(ep, op, fd, ev);
  if (rc == 0 || errno != EPERM || !stand_in_of(fd)) return rc;
  if (op != EPOLL_CTL_DEL && !ev) { errno = EFAULT; return -1; }
  return stand_in_ctl(ep, op, fd, ev);
}

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
    int target_fd = stood_for(ino);
    if (target_fd >= 0) {   /* the program's watch, as it asked for it */
      struct stand_in *si = &stand_ins[target_fd];
      if (add_watch((struct watch){ target_fd, si->events, si->data, 0 }) < 0) { stasis_fail("no memory for epoll fd %d", f->fd); return -1; }
      continue;
    }
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
    if (real_epoll_ctl(ep, EPOLL_CTL_ADD, w->fd, &ev) < 0 &&
        !(errno == EPERM && w->fd <= 2 && stand_in_ctl(ep, EPOLL_CTL_ADD, w->fd, &ev) == 0)) {
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
    if (w->later && real_epoll_ctl(f->fd, EPOLL_CTL_ADD, w->fd, &ev) < 0)
      stasis_log("epoll fd %d: cannot watch epoll fd %d again: %s", f->fd, w->fd, strerror(errno));
  }
  return -1;
}

static void epoll_resume(void) { nepolls = 0; nwatches = 0; }

static const struct stasis_fd_kind epoll_kind = {
  .name = "epoll", .order = 10, .match = epoll_match, .save = epoll_save,
  .restore = epoll_restore, .resume = epoll_resume, .settle = epoll_settle,
};
STASIS_REGISTER static void epoll_register(void) {
  real_epoll_ctl = (epoll_ctl_fn)dlsym(RTLD_NEXT, "epoll_ctl");
  stasis_register_fd_kind(&epoll_kind);
}
