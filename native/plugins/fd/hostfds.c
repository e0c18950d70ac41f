/* Who else holds an object: a walk over every process's descriptors on
 * this host, and whether a process belongs to the job. Used by kinds whose
 * objects may be shared with other processes (pipe, pty, shared descriptions). */
#include "../../core/core.h"
#include "fdutil.h"
#include <stdio.h>
#include <sys/mman.h>
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

/* Every descriptor on this host as "pid\0fd\0target\0" records. Several
 * kinds (pipe, pty, shared descriptions) ask who else holds something
 * while the fd plugin saves (the job stopped): between fdu_host_fds_begin
 * and _end the host is walked once and the walk is reused. */
static char *snap;
static size_t snap_len, snap_cap;
static int snap_wanted, snap_valid;

static int append(const char *s) {
  size_t n = strlen(s) + 1;
  if (snap_len + n > snap_cap) {
    size_t cap = snap_cap ? snap_cap * 2 : 1 << 20;
    while (cap < snap_len + n) cap *= 2;
    void *p = snap ? mremap(snap, snap_cap, cap, MREMAP_MAYMOVE) : mmap(NULL, cap, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) return -1;
    snap = p;
    snap_cap = cap;
  }
  memcpy(snap + snap_len, s, n);
  snap_len += n;
  return 0;
}

/* The live walk: visit() for each descriptor, or recording it (visit NULL). */
static int walk(int (*visit)(const char *pid, const char *fd, const char *target, void *ctx), void *ctx) {
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
          if (visit) rc = visit(d->name, e->name, target, ctx);
          else rc = append(d->name) || append(e->name) || append(target) ? -1 : 0;
        }
      }
      close(dfd);
    }
  }
  close(proc);
  return rc;
}

int fdu_each_host_fd(int (*visit)(const char *pid, const char *fd, const char *target, void *ctx), void *ctx) {
  if (snap_wanted && !snap_valid) {
    snap_len = 0;
    snap_valid = walk(NULL, NULL) == 0;
  }
  if (!snap_wanted || !snap_valid) return walk(visit, ctx);
  int rc = 0;
  for (const char *p = snap; rc == 0 && p < snap + snap_len;) {
    const char *pid = p, *fd = pid + strlen(pid) + 1, *target = fd + strlen(fd) + 1;
    p = target + strlen(target) + 1;
    rc = visit(pid, fd, target, ctx);
  }
  return rc;
}

void fdu_host_fds_begin(void) {
  snap_wanted = 1;
  snap_valid = 0;
}

void fdu_host_fds_end(void) {
  if (snap) munmap(snap, snap_cap);   /* not to be saved in the image */
  snap = NULL;
  snap_len = snap_cap = 0;
  snap_wanted = snap_valid = 0;
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
