/* Regular files, directories and character devices that still have a name:
 * reopened by path with their flags and offset, after a file the program
 * writes is put back as it was at the checkpoint (written.c). A missing
 * file fails the restart with its name, unless its contents were captured. */
#include "../../core/core.h"
#include "../fd/fdutil.h"
#include <stdio.h>
#include "written.h"
#include <sys/stat.h>
#include <sys/sysmacros.h>

#define MAX_FILES 1024
static off_t offsets[MAX_FILES];
static int captured[MAX_FILES];   /* written.c id, or -1 */
static int nfiles;

static int file_match(const struct stasis_fd *f) {
  if (!S_ISREG(f->mode) && !S_ISDIR(f->mode) && !S_ISCHR(f->mode)) return 0;
  if (f->target[0] != '/' || strncmp(f->target, "/memfd:", 7) == 0) return 0;
  if (S_ISCHR(f->mode) && (f->rdev == makedev(5, 2) || (major(f->rdev) >= 136 && major(f->rdev) <= 143)))
    return 0;   /* pseudo-terminals: plugins/pty */
  struct stat st;
  return !(fdu_ends_with(f->target, " (deleted)") && fstat(f->fd, &st) == 0 && st.st_nlink == 0);
}

/* O_PATH handles have none: they only name the file. */
static int has_offset(const struct stasis_fd *f) {
  return (S_ISREG(f->mode) || S_ISDIR(f->mode)) && !(f->flags & O_PATH);
}

static int file_save(const struct stasis_fd *f) {
  if (nfiles >= MAX_FILES) { stasis_fail("more than %d open files", MAX_FILES); return -1; }
  offsets[nfiles] = has_offset(f) ? lseek(f->fd, 0, SEEK_CUR) : 0;
  if ((captured[nfiles] = written_save(f)) == -2) return -1;
  return nfiles++;
}

static int file_restore(const struct stasis_fd *f, int cookie) {
  char path[4096];
  stasis_restore_path(f->target, path, sizeof path);
  if (captured[cookie] >= 0 && written_restore(captured[cookie], path, f->mode) < 0) return -1;
  int fd = open(path, (f->flags & ~(O_CREAT | O_TRUNC | O_EXCL)) | O_CLOEXEC);
  if (fd < 0) {
    int moved = strcmp(path, f->target) != 0;
    stasis_fail("cannot reopen fd %d (%s%s%s): %s", f->fd, path, moved ? ", moved from " : "", moved ? f->target : "",
                strerror(errno));
    return -1;
  }
  if (has_offset(f) && lseek(fd, offsets[cookie], SEEK_SET) < 0) {
    stasis_fail("cannot seek fd %d (%s) to %lld: %s", f->fd, f->target, (long long)offsets[cookie], strerror(errno));
    close(fd);
    return -1;
  }
  return fd;
}

static void file_resume(void) {
  nfiles = 0;
  written_forget();
}

static const struct stasis_fd_kind file_kind = {
  .name = "file", .order = 0, .match = file_match, .save = file_save,
  .restore = file_restore, .resume = file_resume,
};
STASIS_REGISTER static void file_register(void) { stasis_register_fd_kind(&file_kind); }
