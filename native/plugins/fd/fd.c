/* File descriptors: the walk over /proc/self/fd and the dispatch to the
 * registered kinds (stasis.h: struct stasis_fd_kind), one plugin directory
 * each. This file knows no kind. It finds descriptors that share one open
 * file description (kcmp), so a description is saved once and its other
 * descriptors come back as dups of the first. Descriptions shared with
 * other processes of the job are shared again after a restart (shared.c).
 * Descriptions the job inherited at launch, on any number, are the
 * restarter's at restart (inherited.c); so are 0-2 when there is no launch
 * record. */
#include "../../core/core.h"
#include "fdutil.h"
#include "fdtable.h"
#include "inherited.h"
#include <linux/kcmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/syscall.h>

int stasis_fd_kinds(const struct stasis_fd_kind *const **list);   /* core/plugin.c */

struct fd_entry fds[MAX_FDS];
int nfds;
static char *fdinfo_buf;
static size_t fdinfo_cap;

static const char *kind_of(mode_t m, const char *target) {
  if (S_ISFIFO(m)) return "a pipe or FIFO";
  if (S_ISSOCK(m)) return "a socket";
  if (strncmp(target, "anon_inode:", 11) == 0) return target + 11;
  return "of an unsupported kind";
}

static int same_description(const struct fd_entry *a, const struct fd_entry *b) {
  if (a->info.dev != b->info.dev || a->info.ino != b->info.ino) return 0;
  pid_t me = (pid_t)syscall(SYS_getpid);   /* the kernel's: getpid() may be virtual */
  return syscall(SYS_kcmp, me, me, KCMP_FILE, a->info.fd, b->info.fd) == 0;
}

/* Whether a pipe or pty on stdin/stdout/stderr is the job's own (its other
 * end in the job, as in `a | b`): 1 or 0 from its kind, -1 for the kinds
 * that do not say (files...). */
static int stdio_in_job(const struct stasis_fd *info) {
  const struct stasis_fd_kind *const *kinds;
  int nk = stasis_fd_kinds(&kinds);
  for (int k = 0; k < nk; k++)
    if (kinds[k]->stdio_in_job && kinds[k]->match(info)) return kinds[k]->stdio_in_job(info);
  return -1;
}

/* stdin/stdout/stderr that come from the restarter: with the launch record,
 * a pipe or pty whose other end is outside the job (the record missed it:
 * an outside terminal a process reopened); without it, all but the job's
 * own pipes and ptys. */
static int stdio_from_restarter(const struct stasis_fd *info) {
  int own = stdio_in_job(info);
  return inherited_usable() ? own == 0 : own <= 0;
}

static int save_one(int fd) {
  if (nfds >= MAX_FDS) { stasis_fail("more than %d open descriptors", MAX_FDS); return -1; }
  struct fd_entry *e = &fds[nfds];
  char link[64];
  snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
  ssize_t n = readlink(link, e->target, sizeof e->target - 1);
  struct stat st;
  int flags = fcntl(fd, F_GETFL), fdflags = fcntl(fd, F_GETFD);
  if (n < 0 || fstat(fd, &st) < 0 || flags < 0 || fdflags < 0) return 0;   /* closed meanwhile */
  /* A file made with O_TMPFILE keeps it in its flags; reopening with them
   * would ask for a directory. */
  if (S_ISREG(st.st_mode)) flags &= ~(O_TMPFILE & ~O_DIRECTORY) & ~O_DIRECTORY;
  e->target[n] = 0;
  e->info = (struct stasis_fd){ .fd = fd, .flags = flags, .cloexec = !!(fdflags & FD_CLOEXEC),
    .mode = st.st_mode, .dev = st.st_dev, .ino = st.st_ino, .rdev = st.st_rdev, .size = st.st_size,
    .target = e->target, .fdinfo = NULL };
  e->dup_of = -1;
  e->cookie = -1;
  int taken = inherited_take(fd, e->info.cloexec, flags);
  if (taken) return taken < 0 ? -1 : 0;   /* the restarter's at restart */
  if (fd <= 2 && stdio_from_restarter(&e->info)) return 0;
  for (int i = 0; i < nfds; i++)
    if (fds[i].dup_of < 0 && same_description(&fds[i], e)) {
      e->dup_of = fds[i].info.fd;
      e->kind = fds[i].kind;
      nfds++;
      return 0;
    }
  snprintf(link, sizeof link, "/proc/self/fdinfo/%d", fd);
  if (fdu_slurp(link, &fdinfo_buf, &fdinfo_cap) < 0) return 0;
  e->info.fdinfo = fdinfo_buf;
  const struct stasis_fd_kind *const *kinds;
  int nk = stasis_fd_kinds(&kinds);
  for (e->kind = 0; e->kind < nk && !kinds[e->kind]->match(&e->info); e->kind++) {}
  if (e->kind == nk) {
    stasis_fail("fd %d (%s) is %s: not supported yet", fd, e->target, kind_of(st.st_mode, e->target));
    return -1;
  }
  e->cookie = kinds[e->kind]->save(&e->info);
  e->info.fdinfo = NULL;
  if (e->cookie < 0) {
    if (!stasis_failure()) stasis_fail("fd %d (%s): the %s plugin could not save it", fd, e->target, kinds[e->kind]->name);
    return -1;
  }
  nfds++;
  return 0;
}

static int save_all(void) {
  char buf[4096];
  nfds = 0;
  int dfd = open("/proc/self/fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0) { stasis_fail("cannot list /proc/self/fd"); return -1; }
  fdu_host_fds_begin();   /* kinds ask who else holds a descriptor: one walk */
  inherited_begin();
  int rc = 0;
  long n;
  while (rc == 0 && (n = syscall(SYS_getdents64, dfd, buf, sizeof buf)) > 0) {
    for (long off = 0; off < n && rc == 0;) {
      struct { uint64_t ino; int64_t off; unsigned short reclen; unsigned char type; char name[]; } *d = (void *)(buf + off);
      off += d->reclen;
      if (d->name[0] < '0' || d->name[0] > '9') continue;
      int fd = atoi(d->name);
      if (fd == dfd || stasis_is_internal_fd(fd)) continue;
      rc = save_one(fd);
    }
  }
  close(dfd);
  const struct stasis_fd_kind *const *kinds;
  int nk = stasis_fd_kinds(&kinds);
  for (int k = 0; k < nk && rc == 0; k++)
    if (kinds[k]->save_end) rc = kinds[k]->save_end();
  if (rc == 0) rc = inherited_save_end();
  if (rc == 0) shared_find_leaders();
  fdu_host_fds_end();
  /* Restore goes by ascending fd within each order. */
  for (int i = 1; i < nfds; i++)
    for (int j = i; j > 0 && fds[j - 1].info.fd > fds[j].info.fd; j--) {
      struct fd_entry t = fds[j]; fds[j] = fds[j - 1]; fds[j - 1] = t;
      fds[j].info.target = fds[j].target;
      fds[j - 1].info.target = fds[j - 1].target;
    }
  return rc;
}

static int restore_kinds(void);

static int restore_one(const struct fd_entry *e, const struct stasis_fd_kind *kind) {
  int fd = e->info.fd, flags = e->info.cloexec ? O_CLOEXEC : 0;
  if (e->dup_of >= 0) {
    if (dup3(e->dup_of, fd, flags) < 0) { stasis_fail("dup of fd %d to fd %d: %s", e->dup_of, fd, strerror(errno)); return -1; }
    return 0;
  }
  struct stasis_fd info = e->info;
  info.target = e->target;
  info.fdinfo = NULL;
  int tmp = kind->restore(&info, e->cookie);
  if (tmp < 0) {
    if (!stasis_failure()) stasis_fail("cannot restore fd %d (%s): %s plugin failed", fd, e->target, kind->name);
    return -1;
  }
  if (tmp == fd) return fcntl(fd, F_SETFD, e->info.cloexec ? FD_CLOEXEC : 0) < 0 ? -1 : 0;
  int r = dup3(tmp, fd, flags);
  close(tmp);
  if (r < 0) { stasis_fail("cannot move fd %d (%s) into place: %s", fd, e->target, strerror(errno)); return -1; }
  return 0;
}

/* Descriptors the loader handed over (restart_info.inherited, "name=fd
 * ..."): kept, above every saved number, while the kinds restore; closed
 * once they are done. */
#define MAX_INHERITED 4096
static struct { char name[64]; int fd; } inherited[MAX_INHERITED];
static int ninherited;

int fd_inherited(const char *name) {
  for (int i = 0; i < ninherited; i++)
    if (strcmp(inherited[i].name, name) == 0) return inherited[i].fd;
  return -1;
}

static void keep_inherited(void) {
  int top = 3;
  for (int i = 0; i < nfds; i++) if (fds[i].info.fd >= top) top = fds[i].info.fd + 1;
  if (inherited_top() > top) top = inherited_top();
  ninherited = 0;
  for (const char *s = stasis_restart_info.inherited; *s && ninherited < MAX_INHERITED;) {
    while (*s == ' ') s++;
    const char *eq = strchr(s, '=');
    if (!eq) break;
    size_t n = (size_t)(eq - s);
    int fd = atoi(eq + 1);
    if (n < sizeof inherited[0].name && fd >= 0) {   /* stdio too: restarter's 0-2, copied */
      int moved = fcntl(fd, F_DUPFD_CLOEXEC, top);
      if (moved >= 0) {
        memcpy(inherited[ninherited].name, s, n);
        inherited[ninherited].name[n] = 0;
        inherited[ninherited++].fd = moved;
      }
    }
    s = strchr(eq, ' ');
    if (!s) break;
  }
  stasis_restart_info.inherited[0] = 0;
  /* Everything else above stdio goes: what the restarter left open. */
  for (int fd = 3;;) {
    int next = -1;
    for (int i = 0; i < ninherited; i++)
      if (inherited[i].fd >= fd && (next < 0 || inherited[i].fd < next)) next = inherited[i].fd;
    syscall(SYS_close_range, fd, next < 0 ? ~0u : (unsigned)next - 1, 0);
    if (next < 0) break;
    fd = next + 1;
  }
}

static void close_inherited(void) {
  for (int i = 0; i < ninherited; i++) close(inherited[i].fd);
  ninherited = 0;
}

/* Every saved number is held by a placeholder first, so descriptors made
 * while restoring never land on a number still to be restored. */
static int restore_all(void) {
  keep_inherited();
  int rc = inherited_restore();
  if (rc == 0) rc = restore_kinds();
  close_inherited();
  return rc;
}

static int restore_kinds(void) {
  if (nfds == 0) return 0;
  int hold = open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (hold < 0) { stasis_fail("cannot open /dev/null: %s", strerror(errno)); return -1; }
  int hold_is_target = 0;
  for (int i = 0; i < nfds; i++) {
    if (fds[i].info.fd == hold) { hold_is_target = 1; continue; }
    if (dup2(hold, fds[i].info.fd) < 0) { stasis_fail("cannot reserve fd %d: %s", fds[i].info.fd, strerror(errno)); return -1; }
  }
  const struct stasis_fd_kind *const *kinds;
  stasis_fd_kinds(&kinds);
  int done = 0;
  for (long order = -0x7fffffffL - 1; done < nfds;) {
    long next = 0x7fffffffL + 1;
    for (int i = 0; i < nfds; i++) {
      long o = kinds[fds[i].kind]->order;
      if (o > order && o < next) next = o;
    }
    order = next;
    for (int i = 0; i < nfds; i++) {
      if (kinds[fds[i].kind]->order != order) continue;
      if (restore_one(&fds[i], kinds[fds[i].kind]) < 0) return -1;
      done++;
    }
  }
  if (!hold_is_target) close(hold);
  return 0;
}

/* Descriptions that could only be made once the job's pid table is known. */
static void settle_all(void) {
  const struct stasis_fd_kind *const *kinds;
  stasis_fd_kinds(&kinds);
  for (int i = 0; i < nfds; i++) {
    const struct stasis_fd_kind *kind = kinds[fds[i].kind];
    if (fds[i].dup_of >= 0 || !kind->settle) continue;
    struct stasis_fd info = fds[i].info;
    info.target = fds[i].target;
    int fresh = kind->settle(&info, fds[i].cookie);
    if (fresh < 0) continue;
    for (int j = 0; j < nfds; j++)
      if (j == i || fds[j].dup_of == fds[i].info.fd)
        dup3(fresh, fds[j].info.fd, fds[j].info.cloexec ? O_CLOEXEC : 0);
    close(fresh);
  }
}

static void resume_all(void) {
  const struct stasis_fd_kind *const *kinds;
  int nk = stasis_fd_kinds(&kinds);
  for (int k = 0; k < nk; k++)
    if (kinds[k]->resume) kinds[k]->resume();
}

static int fd_event(enum stasis_event ev) {
  if (ev == STASIS_EVENT_SAVE) return save_all();
  if (ev == STASIS_EVENT_RESTART) return restore_all();
  if (ev == STASIS_EVENT_ALL_RESTORED) {
    settle_all();
    shared_take_over();
  }
  if (ev == STASIS_EVENT_RESUME) resume_all();
  return 0;
}

static const struct stasis_plugin fd_plugin = { "fd", fd_event };
STASIS_REGISTER static void fd_register(void) { stasis_register_plugin(&fd_plugin); }
