/* Regular files deleted while open: the contents go into the image (copied
 * into mmap'd memory at SAVE) and come back at restart as a new nameless
 * file in the same directory (O_TMPFILE, or a created-then-unlinked name
 * where the filesystem has no O_TMPFILE), with the same flags, offset and
 * permissions. Several descriptions of one file come back as one file. */
#include "../../core/core.h"
#include "../fd/fdutil.h"
#include <stdio.h>
#include <sys/stat.h>

#define MAX_DELETED 256
struct deleted_rec {
  unsigned long long dev, ino;
  int fd, first;           /* first: the record holding the contents */
  mode_t mode;
  off_t offset;
  size_t size;
  char *data;
  char path[1024];         /* without " (deleted)" */
};
static struct deleted_rec recs[MAX_DELETED];
static int nrecs;

static int deleted_match(const struct stasis_fd *f) {
  struct stat st;
  return S_ISREG(f->mode) && f->target[0] == '/' && strncmp(f->target, "/memfd:", 7) != 0 &&
         fdu_ends_with(f->target, " (deleted)") && fstat(f->fd, &st) == 0 && st.st_nlink == 0;
}

static int deleted_save(const struct stasis_fd *f) {
  if (nrecs >= MAX_DELETED) { stasis_fail("more than %d deleted files", MAX_DELETED); return -1; }
  struct deleted_rec *r = &recs[nrecs];
  memset(r, 0, sizeof *r);
  r->dev = f->dev; r->ino = f->ino; r->fd = f->fd; r->first = nrecs;
  r->offset = lseek(f->fd, 0, SEEK_CUR);
  snprintf(r->path, sizeof r->path, "%s", f->target);
  r->path[strlen(r->path) - 10] = 0;
  for (int i = 0; i < nrecs; i++)
    if (recs[i].dev == f->dev && recs[i].ino == f->ino) { r->first = i; return nrecs++; }
  r->mode = f->mode & 07777;
  r->size = f->size;
  r->data = fdu_copy_out(f->fd, f->flags, r->size);
  if (!r->data) { stasis_fail("fd %d (%s): cannot copy its %zu bytes: %s", f->fd, f->target, r->size, strerror(errno)); return -1; }
  return nrecs++;
}

static int reopen(int fd, int flags) {
  char path[64];
  snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
  return open(path, (flags & ~(O_CREAT | O_TRUNC | O_EXCL)) | O_CLOEXEC);
}

/* A nameless file in the directory the deleted one lived in (or where
 * --path-map moved it). */
static int nameless(const struct deleted_rec *r) {
  char dir[1024];
  stasis_restore_path(r->path, dir, sizeof dir);
  char *slash = strrchr(dir, '/');
  if (slash == dir) slash[1] = 0; else *slash = 0;
  int fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, r->mode);
  if (fd >= 0 || (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL)) return fd;
  for (int i = 0; i < 100; i++) {
    char name[1100];
    snprintf(name, sizeof name, "%s/.stasis-deleted-%d-%d", strcmp(dir, "/") ? dir : "", (int)getpid(), i);
    fd = open(name, O_CREAT | O_EXCL | O_RDWR | O_CLOEXEC, r->mode);
    if (fd >= 0) { unlink(name); return fd; }
    if (errno != EEXIST) return -1;
  }
  return -1;
}

static int create(struct deleted_rec *r, const struct stasis_fd *f) {
  int fd = nameless(r);
  if (fd < 0) return -1;
  if (fdu_write_all(fd, r->data, r->size) < 0 || ftruncate(fd, r->size) < 0) { close(fd); return -1; }
  fchmod(fd, r->mode);
  if ((f->flags & O_ACCMODE) != O_RDWR) {
    int again = reopen(fd, f->flags);
    close(fd);
    return again;
  }
  return fd;
}

static int deleted_restore(const struct stasis_fd *f, int cookie) {
  struct deleted_rec *r = &recs[cookie];
  int fd = r->first == cookie ? create(r, f) : reopen(recs[r->first].fd, f->flags);
  if (fd < 0 || fcntl(fd, F_SETFL, f->flags) < 0 || lseek(fd, r->offset, SEEK_SET) < 0) {
    stasis_fail("cannot recreate fd %d (deleted file %s): %s", f->fd, r->path, strerror(errno));
    if (fd >= 0) close(fd);
    return -1;
  }
  return fd;
}

static void deleted_resume(void) {
  for (int i = 0; i < nrecs; i++) fdu_free_copy(recs[i].data, recs[i].size);
  nrecs = 0;
}

static const struct stasis_fd_kind deleted_kind = {
  .name = "deleted file", .order = 0, .match = deleted_match, .save = deleted_save,
  .restore = deleted_restore, .resume = deleted_resume,
};
STASIS_REGISTER static void deleted_register(void) { stasis_register_fd_kind(&deleted_kind); }
