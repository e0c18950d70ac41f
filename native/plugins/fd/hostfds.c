/* Who else holds an object: a walk over every process's descriptors on
 * this host, and whether a process belongs to the job. Used by kinds whose
 * objects may be shared with other processes (pipe, pty, shared descriptions). */
#include "../../core/core.h"
#include "fdutil.h"
#include <stdio.h>
#include <sys/syscall.h>

/* libstasis is mapped in it, or it was restored (its memory is anonymous
 * then, its executable the loader). */
int fdu_in_job(const char *pid) {
  static char buf[65536 + 32];
  char path[64];
  snprintf(path, sizeof path, "/proc/%s/exe", pid);
  ssize_t x = readlink(path, buf, 4096);
  if (x > 0) { buf[x] = 0; if (fdu_ends_with(buf, "/stasis-restart")) return 1; }
  snprintf(path, sizeof path, "/proc/%s/maps", pid);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  size_t keep = 0;   /* the tail of the last chunk: a name may straddle two */
  ssize_t r;
  int found = 0;
  while (!found && (r = read(fd, buf + keep, 65536)) > 0) {
    size_t n = keep + (size_t)r;
    found = memmem(buf, n, "libstasis", 9) != NULL;
    keep = n < 16 ? n : 16;
    memmove(buf, buf + n - keep, keep);
  }
  close(fd);
  return found;
}

int fdu_each_host_fd(int (*visit)(const char *pid, const char *fd, const char *target, void *ctx), void *ctx) {
  int proc = open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (proc < 0) return 0;
  char buf[4096];
  long n;
  int rc = 0;
  while (rc == 0 && (n = syscall(SYS_getdents64, proc, buf, sizeof buf)) > 0) {
    for (long off = 0; off < n && rc == 0;) {
      struct fdu_dirent *d = (void *)(buf + off);
      off += d->reclen;
      if (d->name[0] < '0' || d->name[0] > '9') continue;
      char dir[64];
      snprintf(dir, sizeof dir, "/proc/%s/fd", d->name);
      int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
      if (dfd < 0) continue;
      char fbuf[4096];
      long m;
      while (rc == 0 && (m = syscall(SYS_getdents64, dfd, fbuf, sizeof fbuf)) > 0) {
        for (long o = 0; o < m && rc == 0;) {
          struct fdu_dirent *e = (void *)(fbuf + o);
          o += e->reclen;
          if (e->name[0] < '0' || e->name[0] > '9') continue;
          char target[1024];
          ssize_t l = readlinkat(dfd, e->name, target, sizeof target - 1);
          if (l <= 0) continue;
          target[l] = 0;
          rc = visit(d->name, e->name, target, ctx);
        }
      }
      close(dfd);
    }
  }
  close(proc);
  return rc;
}

void fdu_comm_of(const char *pid, char *comm, size_t cap) {
  char path[64];
  snprintf(path, sizeof path, "/proc/%s/comm", pid);
  snprintf(comm, cap, "?");
  int cf = open(path, O_RDONLY | O_CLOEXEC);
  if (cf < 0) return;
  ssize_t c = read(cf, comm, cap - 1);
  comm[c > 0 ? c : 0] = 0;
  if (c > 0 && comm[c - 1] == '\n') comm[c - 1] = 0;
  close(cf);
}
