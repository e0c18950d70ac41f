/* memfd: name, contents, size, seals, offset and flags. The contents are
 * copied into mmap'd memory at SAVE (the image carries them) and written
 * into a new memfd at restart. Several descriptions of one memfd come back
 * as one memfd. Mappings of a memfd are the core's business (saved as
 * memory): they are not linked to the new memfd. */
#include "../../core/core.h"
#include "../fd/fdutil.h"
#include <stdio.h>
#include <sys/mman.h>

#define MAX_MEMFDS 256
struct memfd_rec {
  unsigned long long dev, ino;
  int fd, first;           /* first: the record holding the contents */
  int seals;               /* F_SEAL_SEAL alone: sealing was never allowed */
  off_t offset;
  size_t size;
  char *data;
  char name[256];
};
static struct memfd_rec recs[MAX_MEMFDS];
static int nrecs;

static int memfd_match(const struct stasis_fd *f) { return strncmp(f->target, "/memfd:", 7) == 0; }

static int memfd_save(const struct stasis_fd *f) {
  if (nrecs >= MAX_MEMFDS) { stasis_fail("more than %d memfds", MAX_MEMFDS); return -1; }
  struct memfd_rec *r = &recs[nrecs];
  memset(r, 0, sizeof *r);
  r->dev = f->dev; r->ino = f->ino; r->fd = f->fd; r->first = nrecs;
  r->offset = lseek(f->fd, 0, SEEK_CUR);
  for (int i = 0; i < nrecs; i++)
    if (recs[i].dev == f->dev && recs[i].ino == f->ino) { r->first = i; return nrecs++; }
  snprintf(r->name, sizeof r->name, "%s", f->target + 7);
  size_t n = strlen(r->name);
  if (fdu_ends_with(r->name, " (deleted)")) r->name[n - 10] = 0;
  r->seals = fcntl(f->fd, F_GET_SEALS);
  r->size = f->size;
  r->data = fdu_copy_out(f->fd, f->flags, r->size);
  if (!r->data) { stasis_fail("fd %d (%s): cannot copy its %zu bytes: %s", f->fd, f->target, r->size, strerror(errno)); return -1; }
  return nrecs++;
}

/* Reopens a restored memfd (already at its number) with other flags. */
static int reopen(int fd, int flags) {
  char path[64];
  snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
  return open(path, (flags & ~(O_CREAT | O_TRUNC | O_EXCL)) | O_CLOEXEC);
}

static int create(struct memfd_rec *r, const struct stasis_fd *f) {
  int fd = memfd_create(r->name, MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (fd < 0) return -1;
  if (fdu_write_all(fd, r->data, r->size) < 0 || ftruncate(fd, r->size) < 0 ||
      (r->seals > 0 && fcntl(fd, F_ADD_SEALS, r->seals) < 0)) { close(fd); return -1; }
  if ((f->flags & O_ACCMODE) != O_RDWR) {
    int again = reopen(fd, f->flags);
    close(fd);
    return again;
  }
  return fd;
}

static int memfd_restore(const struct stasis_fd *f, int cookie) {
  struct memfd_rec *r = &recs[cookie];
  int fd = r->first == cookie ? create(r, f) : reopen(recs[r->first].fd, f->flags);
  if (fd < 0 || fcntl(fd, F_SETFL, f->flags) < 0 || lseek(fd, r->offset, SEEK_SET) < 0) {
    stasis_fail("cannot recreate fd %d (%s): %s", f->fd, f->target, strerror(errno));
    if (fd >= 0) close(fd);
    return -1;
  }
  return fd;
}

static void memfd_resume(void) {
  for (int i = 0; i < nrecs; i++) fdu_free_copy(recs[i].data, recs[i].size);
  nrecs = 0;
}

static const struct stasis_fd_kind memfd_kind = {
  .name = "memfd", .order = 0, .match = memfd_match, .save = memfd_save,
  .restore = memfd_restore, .resume = memfd_resume,
};
STASIS_REGISTER static void memfd_register(void) { stasis_register_fd_kind(&memfd_kind); }
