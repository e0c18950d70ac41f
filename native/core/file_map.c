/* Private file mappings the process never wrote (docs/incremental.md,
 * "Mapped files"). With --incremental, a private mapping of a regular file
 * (a read-only data file mmap'd MAP_PRIVATE) is not stored page by page:
 * the image names the file as it was (size, times, inode, XXH3-128 of the
 * bytes mapped) and holds only the pages the process changed (anonymous
 * copies, by pagemap); the loader maps the file again and refuses, in one
 * line, a file that is gone or whose bytes differ. Left in the image as
 * before: programs and libraries (PROT_EXEC or an ELF file: an upgrade may
 * replace them under a waiting job, and the code is in the image), mappings
 * under 1 MiB, files changed since the job started (the
 * job may write them: what a restart finds there is not the checkpoint's),
 * deleted files, and a path that now names another file than the mapped one. */
#include "core.h"
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#define MIN_BYTES (1u << 20)
#define CACHE 64

/* Hashes of files already hashed at an earlier checkpoint, by identity: a
 * file whose inode, size, mtime and ctime did not change was not written
 * (ctime moves with every change and cannot be set back). A forked writer's
 * additions die with it: those jobs hash again, in the copy. */
static struct { struct file_ident id; uint64_t offset; } cache[CACHE];
static unsigned cache_next;

static long long ns(struct timespec t) { return (long long)t.tv_sec * 1000000000LL + t.tv_nsec; }

static int cached(struct file_ident *id, uint64_t offset) {
  for (int i = 0; i < CACHE; i++) {
    const struct file_ident *c = &cache[i].id;
    if (c->hashed && c->ino == id->ino && c->dev == id->dev && c->size == id->size && c->mtime_ns == id->mtime_ns &&
        c->ctime_ns == id->ctime_ns && c->hashed == id->hashed && cache[i].offset == offset) {
      id->hash[0] = c->hash[0];
      id->hash[1] = c->hash[1];
      return 1;
    }
  }
  return 0;
}

void filemap_choose(struct region *r, int have_pagemap) {
  if (!stasis_cfg.incremental || !have_pagemap || (r->prot & PROT_EXEC) || r->end - r->start < MIN_BYTES) return;
  if ((r->flags & (RGN_FILE | RGN_CONTENTS | RGN_SHARED | RGN_DELETED | RGN_OBJECT)) != (RGN_FILE | RGN_CONTENTS)) return;
  /* Not libstasis's open(): the scratch-file plugin must not note it. */
  int fd = (int)syscall(SYS_openat, AT_FDCWD, r->path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  struct stat st;
  if (fd < 0) return;
  if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || (uint64_t)st.st_ino != r->ino || major(st.st_dev) != r->dev_major ||
      minor(st.st_dev) != r->dev_minor || (uint64_t)st.st_size <= r->offset)
    goto out;
  if (stasis_cfg.launch_ns && (ns(st.st_mtim) >= stasis_cfg.launch_ns || ns(st.st_ctim) >= stasis_cfg.launch_ns)) goto out;
  char magic[4];
  if (pread(fd, magic, sizeof magic, 0) == (ssize_t)sizeof magic && memcmp(magic, "\177ELF", 4) == 0) goto out;
  struct file_ident id = { (uint64_t)st.st_size, (uint64_t)ns(st.st_mtim), (uint64_t)ns(st.st_ctim), (uint64_t)st.st_dev,
                           (uint64_t)st.st_ino, 0, { 0, 0 } };
  id.hashed = id.size - r->offset < r->end - r->start ? id.size - r->offset : r->end - r->start;
  if (!cached(&id, r->offset)) {
    void *p = mmap(NULL, id.hashed, PROT_READ, MAP_PRIVATE, fd, (off_t)r->offset);
    if (p == MAP_FAILED) goto out;
    madvise(p, id.hashed, MADV_SEQUENTIAL);
    uint64_t h[2];
    stasis_hash128(p, id.hashed, h);
    id.hash[0] = h[0];
    id.hash[1] = h[1];
    munmap(p, id.hashed);
    unsigned slot = cache_next++ % CACHE;
    cache[slot].id = id;
    cache[slot].offset = r->offset;
  }
  r->ident = id;
  r->flags |= RGN_MAPFILE;
  stasis_debug("%s at %#llx: mapped from the file at restart (%llu bytes)", r->path, (unsigned long long)r->start,
               (unsigned long long)id.hashed);
out:
  close(fd);
}
