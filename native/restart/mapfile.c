/* Private file mappings restored from their file (RGN_MAPFILE, written
 * with --incremental: core/file_map.c). The file must hold the bytes it
 * held at the checkpoint, or the restored memory would silently differ:
 * the same file untouched (device, inode, size, mtime and ctime: ctime
 * moves with every change) is taken as it is; any other file at that path
 * (copied, restored from a backup, another node) must have the same size
 * and the same XXH3-128 of the bytes the region maps. Else the restart
 * stops here, before anything is mapped, with one line naming the file. */
#include "image.h"
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include "../core/path_map.h"
#define XXH_INLINE_ALL
#include <xxhash.h>

static long long ns(struct timespec t) { return (long long)t.tv_sec * 1000000000LL + t.tv_nsec; }

static int same_bytes(int fd, const struct file_ident *id, uint64_t offset) {
  if (!id->hashed) return 1;
  void *p = mmap(NULL, id->hashed, PROT_READ, MAP_PRIVATE, fd, (off_t)offset);
  if (p == MAP_FAILED) return 0;
  madvise(p, id->hashed, MADV_SEQUENTIAL);
  XXH128_hash_t h = XXH3_128bits(p, id->hashed);
  munmap(p, id->hashed);
  return h.low64 == id->hash[0] && h.high64 == id->hash[1];
}

int mapfile_check(struct image *img) {
  for (int i = 0; i < img->nregions; i++) {
    struct loaded_region *r = &img->regions[i];
    if (!r->ident) continue;
    char saved[4096], path[4096];
    snprintf(saved, sizeof saved, "%.*s", (int)r->rec->path_len, r->path);
    path_map_apply(restart_path_map, saved, path, sizeof path);
    const struct file_ident *id = r->ident;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) < 0) {
      fprintf(stderr, "stasis-restart: %s: %s: %s (the image maps it again, it does not hold its bytes: --incremental)\n",
              img->name, path, strerror(errno));
      return -1;
    }
    int untouched = (uint64_t)st.st_dev == id->dev && (uint64_t)st.st_ino == id->ino && (uint64_t)ns(st.st_mtim) == id->mtime_ns &&
                    (uint64_t)ns(st.st_ctim) == id->ctime_ns;
    if (!S_ISREG(st.st_mode) || (uint64_t)st.st_size != id->size || (!untouched && !same_bytes(fd, id, r->rec->file_offset))) {
      fprintf(stderr, "stasis-restart: %s: %s changed since the checkpoint (%s); the image maps it again and does not hold "
              "its bytes (--incremental): put the file back as it was\n", img->name, path,
              (uint64_t)st.st_size != id->size ? "another size" : "other contents");
      close(fd);
      return -1;
    }
    r->file_fd = fd;
  }
  return 0;
}
