/* Small helpers shared by the descriptor kinds: mmap'd buffers (never
 * malloc on the checkpoint thread), whole reads and writes, fdinfo fields. */
#ifndef STASIS_FDUTIL_H
#define STASIS_FDUTIL_H
#include <errno.h>
#include <stdio.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/* At RESTART, while kinds restore: a descriptor the loader opened for this
 * process, by the name it gave it (restart_info.inherited), or -1. */
int fd_inherited(const char *name);

/* Other holders (hostfds.c): is process `pid` (a /proc name) in the job;
 * visit(pid, fd, readlink target) for every descriptor of every process on
 * this host, this one included, until it returns non-zero (returned);
 * a process's comm for messages. */
int fdu_in_job(const char *pid);
int fdu_each_host_fd(int (*visit)(const char *pid, const char *fd, const char *target, void *ctx), void *ctx);
void fdu_comm_of(const char *pid, char *comm, size_t cap);
/* Between these, fdu_each_host_fd walks the host once and reuses the walk. */
void fdu_host_fds_begin(void);
void fdu_host_fds_end(void);

/* A getdents64 record (glibc's readdir allocates). */
struct fdu_dirent { uint64_t ino; int64_t off; unsigned short reclen; unsigned char type; char name[]; };

static inline size_t fdu_round(size_t n) { return (n + 4095) & ~(size_t)4095; }

/* Anonymous memory of at least n bytes (n may be 0), or NULL. */
static inline void *fdu_alloc(size_t n) {
  void *p = mmap(NULL, fdu_round(n ? n : 1), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  return p == MAP_FAILED ? NULL : p;
}
static inline void fdu_free(void *p, size_t n) { if (p) munmap(p, fdu_round(n ? n : 1)); }

/* A copy of a file of 1 MiB or more goes in 8 MiB windows of its own:
 * incremental images cut memory into runs at 8 MiB boundaries and reference
 * a run whose bytes did not change (core/incremental.c), so byte k of the
 * file lands in the same place of the same run at every checkpoint, and an
 * appended-to file changes only the run of its tail. Address space only:
 * the untouched end of the last window is never backed. */
#define FDU_WINDOW ((size_t)8 << 20)
static inline size_t fdu_copy_span(size_t n) {
  return n >= ((size_t)1 << 20) ? (n + FDU_WINDOW - 1) & ~(FDU_WINDOW - 1) : fdu_round(n ? n : 1);
}
static inline void *fdu_alloc_copy(size_t n) {
  if (n < ((size_t)1 << 20)) return fdu_alloc(n);
  size_t span = fdu_copy_span(n);
  char *p = mmap(NULL, span + FDU_WINDOW, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (p == MAP_FAILED) return NULL;
  char *at = (char *)(((uintptr_t)p + FDU_WINDOW - 1) & ~(uintptr_t)(FDU_WINDOW - 1));
  if (at > p) munmap(p, (size_t)(at - p));
  if (at + span < p + span + FDU_WINDOW) munmap(at + span, (size_t)(p + span + FDU_WINDOW - (at + span)));
  return at;
}
static inline void fdu_free_copy(void *p, size_t n) { if (p) munmap(p, fdu_copy_span(n)); }

static inline int fdu_write_all(int fd, const char *buf, size_t n) {
  while (n > 0) {
    ssize_t w = write(fd, buf, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return -1;
    buf += w; n -= w;
  }
  return 0;
}

/* Reads exactly n bytes from offset off (pread), or fails. */
static inline int fdu_pread_all(int fd, char *buf, size_t n, off_t off) {
  while (n > 0) {
    ssize_t r = pread(fd, buf, n, off);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return -1;
    buf += r; n -= r; off += r;
  }
  return 0;
}

/* The whole contents of a file (size bytes) into fresh mmap'd memory
 * (fdu_alloc_copy: free it with fdu_free_copy); a write-only descriptor
 * (flags) is read through a /proc reopening. */
static inline char *fdu_copy_out(int fd, int flags, size_t size) {
  int rfd = fd;
  if ((flags & O_ACCMODE) == O_WRONLY) {
    char proc[64];
    snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd);
    if ((rfd = open(proc, O_RDONLY | O_CLOEXEC)) < 0) return NULL;
  }
  char *buf = fdu_alloc_copy(size);
  if (buf && size && fdu_pread_all(rfd, buf, size, 0) < 0) { fdu_free_copy(buf, size); buf = NULL; }
  if (rfd != fd) close(rfd);
  return buf;
}

/* The text after "key" in an fdinfo, or NULL. Keys start a line. */
static inline const char *fdu_field(const char *info, const char *key) {
  size_t k = strlen(key);
  for (const char *l = info; l && *l; l = strchr(l, '\n'), l = l ? l + 1 : NULL)
    if (strncmp(l, key, k) == 0) return l + k;
  return NULL;
}

/* Whole small file into a growable mmap'd buffer, kept for the next call;
 * length, or -1. It grows only when the file does not fit (a caller that
 * frees the buffer must zero *cap too). */
static inline ssize_t fdu_slurp(const char *path, char **buf, size_t *cap) {
  for (;;) {
    if (!*buf) {
      if (!*cap) *cap = 65536;
      *buf = fdu_alloc(*cap);
      if (!*buf) return -1;
    }
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    size_t n = 0;
    ssize_t r;
    while (n < *cap - 1 && (r = read(fd, *buf + n, *cap - 1 - n)) > 0) n += r;
    close(fd);
    if (n < *cap - 1) { (*buf)[n] = 0; return (ssize_t)n; }
    fdu_free(*buf, *cap);
    *buf = NULL;
    *cap *= 2;
  }
}

static inline int fdu_ends_with(const char *s, const char *suffix) {
  size_t a = strlen(s), b = strlen(suffix);
  return a >= b && strcmp(s + a - b, suffix) == 0;
}
#endif
