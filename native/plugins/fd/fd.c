/* File descriptors: regular files, directories and character devices are
 * reopened by path with their flags and offsets. Descriptors 0-2 are the
 * restarter's own (the job's new terminal or output files), as a batch job
 * expects. Other kinds refuse the checkpoint until a plugin handles them. */
#include "../../core/core.h"
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#define MAX_FDS 1024
struct saved_fd {
  int fd, flags, fdflags;
  mode_t mode;
  off_t offset;
  char path[1024];
};
static struct saved_fd fds[MAX_FDS];
static int nfds;

static const char *kind_of(mode_t m, const char *target) {
  if (S_ISFIFO(m)) return "a pipe or FIFO";
  if (S_ISSOCK(m)) return "a socket";
  if (strncmp(target, "anon_inode:", 11) == 0) return target + 11;
  return "of an unsupported kind";
}

static int save_one(int fd) {
  char link[64], target[1024];
  snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
  ssize_t n = readlink(link, target, sizeof target - 1);
  struct stat st;
  if (n < 0 || fstat(fd, &st) < 0) return 0;   /* closed meanwhile */
  target[n] = 0;
  if (fd <= 2) return 0;                        /* inherited at restart */
  int reopenable = S_ISREG(st.st_mode) || S_ISDIR(st.st_mode) || S_ISCHR(st.st_mode);
  if (!reopenable || target[0] != '/') {
    stasis_fail("fd %d (%s) is %s: not supported yet", fd, target, kind_of(st.st_mode, target));
    return -1;
  }
  size_t tl = strlen(target);
  if (tl > 10 && strcmp(target + tl - 10, " (deleted)") == 0) {
    stasis_fail("fd %d (%s) is a deleted file: not supported yet", fd, target);
    return -1;
  }
  if (nfds >= MAX_FDS) { stasis_fail("more than %d open files", MAX_FDS); return -1; }
  struct saved_fd *s = &fds[nfds++];
  s->fd = fd;
  s->flags = fcntl(fd, F_GETFL);
  s->fdflags = fcntl(fd, F_GETFD);
  s->mode = st.st_mode;
  s->offset = S_ISREG(st.st_mode) || S_ISDIR(st.st_mode) ? lseek(fd, 0, SEEK_CUR) : 0;
  snprintf(s->path, sizeof s->path, "%s", target);
  return 0;
}

static int save_all(void) {
  char buf[4096];
  nfds = 0;
  int dfd = open("/proc/self/fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0) { stasis_fail("cannot list /proc/self/fd"); return -1; }
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
  return rc;
}

static int restore_one(const struct saved_fd *s) {
  int flags = s->flags & ~(O_CREAT | O_TRUNC | O_EXCL);
  int fd = open(s->path, flags);
  if (fd < 0) {
    stasis_fail("cannot reopen fd %d (%s): %s", s->fd, s->path, strerror(errno));
    return -1;
  }
  if (fd != s->fd) {
    if (dup2(fd, s->fd) < 0) { stasis_fail("dup2 to fd %d: %s", s->fd, strerror(errno)); return -1; }
    close(fd);
  }
  if ((S_ISREG(s->mode) || S_ISDIR(s->mode)) && lseek(s->fd, s->offset, SEEK_SET) < 0) {
    stasis_fail("cannot seek fd %d (%s) to %lld: %s", s->fd, s->path, (long long)s->offset, strerror(errno));
    return -1;
  }
  fcntl(s->fd, F_SETFD, s->fdflags);
  return 0;
}

static int restore_all(void) {
  /* Whatever the restarter left open above stdio is not the program's. */
  syscall(SYS_close_range, 3, ~0u, 0);
  for (int i = 0; i < nfds; i++)
    if (restore_one(&fds[i]) < 0) return -1;
  return 0;
}

static int fd_event(enum stasis_event ev) {
  if (ev == STASIS_EVENT_SAVE) return save_all();
  if (ev == STASIS_EVENT_RESTART) return restore_all();
  return 0;
}

static const struct stasis_plugin fd_plugin = { "fd", fd_event };
__attribute__((constructor)) static void fd_register(void) { stasis_register_plugin(&fd_plugin); }
