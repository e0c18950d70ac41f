/* inotify: the watches, re-added by path with the same watch descriptors.
 * The kernel's fdinfo names a watch by inode only (resolving its handle
 * needs CAP_DAC_READ_SEARCH), so inotify_add_watch is wrapped to remember
 * each watch's path; at SAVE every watch in fdinfo must match a remembered
 * one. Watch numbers come back the same by adding (and removing) watches
 * until the kernel hands out the wanted number. Events queued but not read
 * at the checkpoint are not in the image: a restored process does not see
 * them (the running one does). */
#include "../../core/core.h"
#include "../fd/fdutil.h"
#include <dlfcn.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#define MAX_RECORDS 1024
struct record { int used, fd, wd; uint32_t mask; unsigned long long ino; char path[PATH_MAX]; };
static struct record records[MAX_RECORDS];

static void remember(int fd, int wd, const char *path, uint32_t mask) {
  struct record *free_slot = NULL;
  for (int i = 0; i < MAX_RECORDS; i++) {
    struct record *r = &records[i];
    if (r->used && r->fd == fd && r->wd == wd) { free_slot = r; break; }
    if (!r->used && !free_slot) free_slot = r;
  }
  if (!free_slot) return;   /* save will refuse, naming the watch */
  struct record *r = free_slot;
  r->fd = fd; r->wd = wd;
  r->mask = (r->used && (mask & IN_MASK_ADD) ? r->mask : 0) | (mask & ~(IN_MASK_ADD | IN_MASK_CREATE));
  if (path[0] == '/' || !getcwd(r->path, sizeof r->path)) snprintf(r->path, sizeof r->path, "%s", path);
  else {
    size_t n = strlen(r->path);
    snprintf(r->path + n, sizeof r->path - n, "/%s", path);
  }
  struct stat st;
  r->ino = stat(path, &st) == 0 ? st.st_ino : 0;
  r->used = 1;
}

API int inotify_add_watch(int fd, const char *path, uint32_t mask) {
  stasis_delay_begin();   /* no checkpoint between the watch and its record */
  int wd = (int)syscall(SYS_inotify_add_watch, fd, path, mask);
  if (wd >= 0) remember(fd, wd, path, mask);
  stasis_delay_end();
  return wd;
}

API int inotify_rm_watch(int fd, int wd) {
  stasis_delay_begin();
  int r = (int)syscall(SYS_inotify_rm_watch, fd, wd);
  for (int i = 0; i < MAX_RECORDS; i++)
    if (records[i].used && records[i].fd == fd && records[i].wd == wd) records[i].used = 0;
  stasis_delay_end();
  return r;
}

#define MAX_WATCHES 4096
#define MAX_INOTIFYS 128
static struct { int wd; uint32_t mask; int record; } watches[MAX_WATCHES];
static struct { int first, count; } inotifys[MAX_INOTIFYS];
static int nwatches, ninotifys;

static int inotify_match(const struct stasis_fd *f) { return strcmp(f->target, "anon_inode:inotify") == 0; }

static int inotify_save(const struct stasis_fd *f) {
  if (ninotifys >= MAX_INOTIFYS) { stasis_fail("more than %d inotify descriptors", MAX_INOTIFYS); return -1; }
  inotifys[ninotifys].first = nwatches;
  for (const char *l = strstr(f->fdinfo, "inotify wd:"); l; l = strstr(l + 11, "inotify wd:")) {
    unsigned wd, mask;
    unsigned long long ino;
    const char *m = strstr(l, "mask:");
    if (sscanf(l, "inotify wd:%x ino:%llx", &wd, &ino) != 2 || !m || sscanf(m, "mask:%x", &mask) != 1) {
      stasis_fail("fd %d (inotify): cannot read its watches", f->fd);
      return -1;
    }
    int rec;
    for (rec = 0; rec < MAX_RECORDS; rec++)
      if (records[rec].used && records[rec].fd == f->fd && records[rec].wd == (int)wd && records[rec].ino == ino) break;
    if (rec == MAX_RECORDS) {
      stasis_fail("fd %d (inotify): watch %u (inode %llu) was not added through inotify_add_watch under stasis: its path is unknown", f->fd, wd, ino);
      return -1;
    }
    if (nwatches >= MAX_WATCHES) { stasis_fail("more than %d inotify watches", MAX_WATCHES); return -1; }
    watches[nwatches].wd = wd;
    watches[nwatches].mask = records[rec].mask | (mask & IN_ALL_EVENTS);
    watches[nwatches].record = rec;
    nwatches++;
  }
  inotifys[ninotifys].count = nwatches - inotifys[ninotifys].first;
  return ninotifys++;
}

static int inotify_restore(const struct stasis_fd *f, int cookie) {
  int fd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
  if (fd < 0) { stasis_fail("cannot make an inotify for fd %d: %s", f->fd, strerror(errno)); return -1; }
  int first = inotifys[cookie].first, n = inotifys[cookie].count;
  for (int done = 0; done < n; done++) {   /* ascending watch numbers */
    int best = -1;
    for (int i = first; i < first + n; i++)
      if (watches[i].wd > 0 && (best < 0 || watches[i].wd < watches[best].wd)) best = i;
    struct record *r = &records[watches[best].record];
    int want = watches[best].wd, wd;
    char moved[sizeof r->path];   /* --path-map; later checkpoints save where it is now */
    stasis_restore_path(r->path, moved, sizeof moved);
    memcpy(r->path, moved, sizeof moved);
    while ((wd = (int)syscall(SYS_inotify_add_watch, fd, r->path, watches[best].mask)) >= 0 && wd < want)
      syscall(SYS_inotify_rm_watch, fd, wd);
    if (wd != want) {
      stasis_fail("inotify fd %d: cannot watch %s again as watch %d: %s", f->fd, r->path, want,
                  wd < 0 ? strerror(errno) : "the kernel gave another number");
      close(fd);
      return -1;
    }
    struct stat st;
    if (stat(r->path, &st) == 0) r->ino = st.st_ino;
    watches[best].wd = -want;   /* done */
  }
  for (int i = first; i < first + n; i++) watches[i].wd = -watches[i].wd;
  /* The removals queued IN_IGNORED events of their own: drop them. */
  char buf[4096];
  while (read(fd, buf, sizeof buf) > 0) {}
  if (fcntl(fd, F_SETFL, f->flags) < 0) { close(fd); return -1; }
  return fd;
}

static void inotify_resume(void) { nwatches = ninotifys = 0; }

static const struct stasis_fd_kind inotify_kind = {
  .name = "inotify", .order = 0, .match = inotify_match, .save = inotify_save,
  .restore = inotify_restore, .resume = inotify_resume,
};
STASIS_REGISTER static void inotify_register(void) { stasis_register_fd_kind(&inotify_kind); }
