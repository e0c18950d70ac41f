/* Files the job writes (DESIGN: "Files the job writes"). A restored process
 * must find a file it writes as it was at the checkpoint: its buffers,
 * offsets and caches (a database's page cache) describe that file, not one
 * written on after the checkpoint. So at SAVE a regular file open for
 * writing is captured — its contents (into this library's memory, hence
 * the image) or, opened O_APPEND, only its length — and at restart put back:
 * contents rewritten, an append-only log cut back to its saved length.
 *
 * A file open only for reading is captured too when the job made it
 * (made.c): a scratch file written, reopened to be read and deleted at the
 * end, which the run killed after the checkpoint may already have deleted
 * or rewritten. At restart it is rewritten only if missing or different.
 * Files over STASIS_CAPTURE_MAX MiB (default 256) are left as they are. */
#include "../../core/core.h"
#include "../fd/fdutil.h"
#include "written.h"
#include <stdlib.h>
#include <sys/stat.h>

#define MAX_WRITTEN 256
struct written {
  unsigned long long dev, ino, size;
  int append_only, read_only;
  char *data;            /* contents (NULL for append-only) */
};
static struct written files[MAX_WRITTEN];
static int nwritten;

unsigned long long capture_max(void) {
  static unsigned long long max;
  if (!max) {
    const char *v = getenv("STASIS_CAPTURE_MAX");
    max = (v && *v ? strtoull(v, NULL, 10) : 256) << 20;
    if (!max) max = 1;   /* 0 MiB: capture nothing but empty files */
  }
  return max;
}

int written_save(const struct stasis_fd *f) {
  if (!S_ISREG(f->mode)) return -1;
  int read_only = (f->flags & O_ACCMODE) == O_RDONLY;
  for (int i = 0; i < nwritten; i++)
    if (files[i].dev == f->dev && files[i].ino == f->ino) {   /* another description of it */
      if (!read_only) files[i].read_only = 0;
      return i;
    }
  if (read_only && !made_by_job(f)) return -1;   /* an input: must stay as it is */
  int append_only = (f->flags & O_APPEND) != 0;
  if (!append_only && f->size > capture_max()) {
    stasis_debug("%s (%llu bytes) is %s but too large to capture", f->target, f->size, read_only ? "made by the job" : "written");
    return -1;
  }
  if (nwritten >= MAX_WRITTEN) return -1;
  struct written *w = &files[nwritten];
  *w = (struct written){ f->dev, f->ino, f->size, append_only, read_only, NULL };
  if (!append_only && !(w->data = fdu_copy_out(f->fd, f->flags, f->size))) {
    stasis_fail("cannot capture %s, which the program %s: %s", f->target, read_only ? "made" : "writes", strerror(errno));
    return -2;
  }
  return nwritten++;
}

/* Does the file at path hold exactly these contents? */
static int same_contents(const char *path, const char *data, unsigned long long size) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  struct stat st;
  int same = fstat(fd, &st) == 0 && (unsigned long long)st.st_size == size;
  char buf[65536];
  for (unsigned long long off = 0; same && off < size; off += sizeof buf) {
    size_t n = size - off < sizeof buf ? (size_t)(size - off) : sizeof buf;
    same = fdu_pread_all(fd, buf, n, (off_t)off) == 0 && memcmp(buf, data + off, n) == 0;
  }
  close(fd);
  return same;
}

/* The directories above path, as a requeued job on a fresh node lacks them
 * (a scratch directory made with mkdtemp). */
static void make_parents(const char *path) {
  char dir[4096];
  snprintf(dir, sizeof dir, "%s", path);
  for (char *s = strchr(dir + 1, '/'); s; s = strchr(s + 1, '/')) {
    *s = 0;
    mkdir(dir, 0700);
    *s = '/';
  }
}

int put_back(const char *path, const char *data, unsigned long long size, unsigned int mode, int if_different) {
  if (if_different && same_contents(path, data, size)) return 0;
  int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, mode & 07777);
  if (fd < 0 && errno == ENOENT) {
    make_parents(path);
    fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, mode & 07777);
  }
  if (fd < 0) goto fail;
  if (fdu_write_all(fd, data, size) < 0 || ftruncate(fd, (off_t)size) < 0) { close(fd); goto fail; }
  close(fd);
  return 0;
fail:
  stasis_fail("cannot put back %s as it was at the checkpoint: %s", path, strerror(errno));
  return -1;
}

/* Before the file is reopened: back to its state at the checkpoint. */
int written_restore(int id, const char *path, unsigned int mode) {
  const struct written *w = &files[id];
  if (w->append_only) {
    struct stat st;
    if (stat(path, &st) == 0 && (unsigned long long)st.st_size > w->size && truncate(path, (off_t)w->size) < 0) {
      stasis_fail("cannot put back %s as it was at the checkpoint: %s", path, strerror(errno));
      return -1;
    }
    return 0;
  }
  return put_back(path, w->data, w->size, mode, w->read_only);
}

int written_holds(unsigned long long dev, unsigned long long ino) {
  for (int i = 0; i < nwritten; i++)
    if (files[i].dev == dev && files[i].ino == ino && !files[i].append_only) return 1;
  return 0;
}

void written_forget(void) {
  for (int i = 0; i < nwritten; i++) fdu_free_copy(files[i].data, files[i].size);
  nwritten = 0;
}
