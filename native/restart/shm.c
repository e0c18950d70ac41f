/* Shared memory objects of a process tree (plugins/shm). Every process
 * wrote IMAGE.shm at SAVE: "object KIND KEY SIZE MODE NAME" per object it
 * maps and "map START END OFFSET KEY W" per mapping; the first holder wrote
 * the contents to GENDIR/shm-KEY.data (':' as '-'). Before anything forks,
 * the loader makes each object once, from those contents: anonymous shared
 * memory (opened again through /proc/self/map_files, so it stays
 * "/dev/zero"; a memfd where that is not allowed), a memfd, a file in
 * /dev/shm at its path, a nameless file where a deleted one was, or a new
 * SysV segment. Forked loaders inherit them all, and each maps its own
 * process's regions of them at their old addresses (shm_map_region): every
 * holder maps the same object again. */
#include "shm.h"
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/shm.h>
#include <sys/stat.h>
#include <unistd.h>

struct object { char key[64]; int fd, sysv_id; };
struct shm_map { const char *image; uint64_t start, end, offset; int object; };
static struct object *objects;
static struct shm_map *maps;
static int nobjects, nmaps;

static int find_object(const char *key) {
  for (int i = 0; i < nobjects; i++) if (strcmp(objects[i].key, key) == 0) return i;
  return -1;
}

static int page_is_zero(const char *p, size_t n) {
  for (size_t i = 0; i < n; i++) if (p[i]) return 0;
  return 1;
}

/* Copies the saved contents into the object: through fd, or into memory
 * at `mem` (a SysV segment). Zero pages are skipped (the object is new). */
static int fill(const char *data, int fd, char *mem, uint64_t size) {
  int src = open(data, O_RDONLY | O_CLOEXEC);
  if (src < 0) { fprintf(stderr, "stasis-restart: %s: %s\n", data, strerror(errno)); return -1; }
  static char buf[1 << 16];
  int rc = 0;
  for (uint64_t off = 0; off < size && rc == 0;) {
    ssize_t n = pread(src, buf, size - off < sizeof buf ? size - off : sizeof buf, off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) { fprintf(stderr, "stasis-restart: %s: short file\n", data); rc = -1; break; }
    if (!page_is_zero(buf, n)) {
      if (mem) memcpy(mem + off, buf, n);
      else if (pwrite(fd, buf, n, off) != n) { fprintf(stderr, "stasis-restart: writing %s back: %s\n", data, strerror(errno)); rc = -1; }
    }
    off += n;
  }
  close(src);
  return rc;
}

/* Anonymous shared memory, as a descriptor every process can map. */
static int make_anon(uint64_t size) {
  char *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) return -1;
  char proc[96];
  snprintf(proc, sizeof proc, "/proc/self/map_files/%lx-%lx", (unsigned long)p,
           (unsigned long)(p + ((size + 4095) & ~4095ull)));
  int fd = open(proc, O_RDWR | O_CLOEXEC);
  munmap(p, size);
  if (fd >= 0) return fd;
  fd = memfd_create("stasis-shm", MFD_CLOEXEC);
  return fd >= 0 && ftruncate(fd, size) == 0 ? fd : -1;
}

static int make_nameless(const char *path, unsigned mode) {
  char dir[1024];
  snprintf(dir, sizeof dir, "%s", path);
  char *slash = strrchr(dir, '/');
  if (slash == dir) slash[1] = 0; else if (slash) *slash = 0;
  int fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, mode);
  if (fd >= 0) return fd;
  char name[1100];
  snprintf(name, sizeof name, "%s/.stasis-shm-%d", strcmp(dir, "/") ? dir : "", (int)getpid());
  fd = open(name, O_CREAT | O_EXCL | O_RDWR | O_CLOEXEC, mode);
  if (fd >= 0) unlink(name);
  return fd;
}

static int make_sysv(const char *name, uint64_t size, unsigned mode, const char *data) {
  unsigned key = 0;
  int dest = 0;
  sscanf(name, "%x %d", &key, &dest);
  /* Removed at the checkpoint: its key was gone already. */
  int id = shmget(dest ? IPC_PRIVATE : (key_t)key, size, IPC_CREAT | (mode & 0777));
  if (id < 0) return -1;
  char *mem = shmat(id, NULL, 0);
  if (mem == (void *)-1) return -1;
  memset(mem, 0, size);   /* a keyed segment may still exist, with later bytes */
  int rc = fill(data, -1, mem, size);
  shmdt(mem);
  return rc < 0 ? -2 : id;
}

static int make_object(const char *file, const char *kind, const char *key, uint64_t size, unsigned mode,
                       const char *name) {
  char data[4300];
  const char *slash = strrchr(file, '/');
  snprintf(data, sizeof data, "%.*sshm-%s.data", slash ? (int)(slash - file + 1) : 0, file, key);
  for (char *c = strrchr(data, '/') ? strrchr(data, '/') + 1 : data; *c; c++) if (*c == ':') *c = '-';
  struct object *o = &objects[nobjects];
  snprintf(o->key, sizeof o->key, "%s", key);
  o->fd = o->sysv_id = -1;
  if (strcmp(kind, "sysv") == 0) {
    o->sysv_id = make_sysv(name, size, mode, data);
    if (o->sysv_id == -2) return -1;
  } else {
    if (strcmp(kind, "anon") == 0) o->fd = make_anon(size);
    else if (strcmp(kind, "memfd") == 0) o->fd = memfd_create(strncmp(name, "/memfd:", 7) == 0 ? name + 7 : name, MFD_CLOEXEC);
    else if (strcmp(kind, "file") == 0) {
      o->fd = open(name, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
      if (o->fd >= 0) fchmod(o->fd, mode);
    } else if (strcmp(kind, "deleted") == 0) o->fd = make_nameless(name, mode);
    else { fprintf(stderr, "stasis-restart: %s: unknown shared memory kind '%s'\n", file, kind); return -1; }
    if (o->fd >= 0 && (ftruncate(o->fd, size) < 0 || fill(data, o->fd, NULL, size) < 0)) return -1;
  }
  if (o->fd < 0 && o->sysv_id < 0) {
    fprintf(stderr, "stasis-restart: %s: cannot make shared memory %s (%s %s): %s\n", file, key, kind, name, strerror(errno));
    return -1;
  }
  nobjects++;
  return 0;
}

static int read_records(const char *image) {
  char path[4200], line[2048];
  snprintf(path, sizeof path, "%s.shm", image);
  FILE *f = fopen(path, "re");
  if (!f) {
    if (errno == ENOENT) return 0;
    fprintf(stderr, "stasis-restart: %s: %s\n", path, strerror(errno));
    return -1;
  }
  int rc = 0;
  while (rc == 0 && fgets(line, sizeof line, f)) {
    line[strcspn(line, "\n")] = 0;
    char kind[16], key[64];
    unsigned long long size, start, end, off;
    unsigned mode;
    int pos = 0;
    if (sscanf(line, "object %15s %63s %llu %o %n", kind, key, &size, &mode, &pos) == 4 && pos) {
      objects = realloc(objects, (nobjects + 1) * sizeof *objects);
      if (find_object(key) < 0) rc = make_object(path, kind, key, size, mode, line + pos);
    } else if (sscanf(line, "map %llx %llx %llx %63s", &start, &end, &off, key) == 4 && find_object(key) >= 0) {
      maps = realloc(maps, (nmaps + 1) * sizeof *maps);
      maps[nmaps++] = (struct shm_map){ image, start, end, off, find_object(key) };
    } else {
      fprintf(stderr, "stasis-restart: %s: malformed line '%s'\n", path, line);
      rc = -1;
    }
  }
  fclose(f);
  return rc;
}

int shm_prepare(int count, const char *const *images) {
  for (int i = 0; i < count; i++)
    if (read_records(images[i]) < 0) return -1;
  return 0;
}

void shm_keep_only(const char *image) {
  int n = 0;
  for (int i = 0; i < nmaps; i++)
    if (maps[i].image == image) maps[n++] = maps[i];
  nmaps = n;
}

void shm_map_region(const char *name, uint64_t start, uint64_t end, int prot) {
  for (int i = 0; i < nmaps; i++) {
    const struct shm_map *m = &maps[i];
    if (start < m->start || start >= m->end) continue;
    const struct object *o = &objects[m->object];
    uint64_t off = m->offset + (start - m->start);
    if (o->sysv_id >= 0) {
      /* One attachment covers the whole segment: later pieces of it (split
       * by mprotect) only get their protection. */
      int flags = SHM_REMAP | (prot & PROT_WRITE ? 0 : SHM_RDONLY) | (prot & PROT_EXEC ? SHM_EXEC : 0);
      if (off == 0 && shmat(o->sysv_id, (void *)start, flags) == (void *)-1) break;
      if (mprotect((void *)start, end - start, prot) < 0) break;
      return;
    }
    if (mmap((void *)start, end - start, prot, MAP_SHARED | MAP_FIXED, o->fd, off) == MAP_FAILED) break;
    return;
  }
  fprintf(stderr, "stasis-restart: %s: cannot map shared memory at %#lx: %s\n", name, (unsigned long)start,
          errno ? strerror(errno) : "not described in its .shm file");
  _exit(71);
}
