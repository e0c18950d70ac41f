/* Shared memory objects of a process tree (plugins/shm). Every process
 * wrote IMAGE.shm at SAVE: "object KIND KEY SIZE MODE NAME" per object it
 * maps and "map START END OFFSET KEY W" per mapping; the first holder wrote
 * the contents to GENDIR/shm-KEY.data (':' as '-'), sparse. Before anything forks,
 * the loader makes each object once, from those contents: anonymous shared
 * memory (opened again through /proc/self/map_files, so it stays
 * "/dev/zero"; a memfd where that is not allowed), a memfd, a file in
 * /dev/shm at its path, a nameless file where a deleted one was, or a new
 * SysV segment. IMAGE.shm is a side file (side.c checks its trailer) and
 * each .data file ends with the same trailer after its SIZE bytes: all are
 * checked before any object is made. Forked loaders inherit them all, and each maps its own
 * process's regions of them at their old addresses (shm_map_region): every
 * holder maps the same object again. */
#include "loader.h"
#include "crc32c.h"
#include "../../restart/side.h"
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/shm.h>
#include <sys/stat.h>
#include <unistd.h>

/* An object as an object line describes it, then what was made of it. */
struct object {
  char key[320], kind[16], data[4300];
  char *name, *shm_file;
  uint64_t size;
  unsigned mode;
  int fd, sysv_id;
};
struct shm_map { const char *image; uint64_t start, end, offset; int object; };
static struct object *objects;
static struct shm_map *maps;
static int nobjects, nmaps;

#define TRAILER_LEN 20   /* "end crc32c:" + 8 hex digits + "\n", as side files */
static char buf[1 << 16];

/* The directories above a file in /dev/shm that another host's /dev/shm
 * had (a launcher's session directory: Open MPI's PMIx data store), made
 * 0700 as such directories are. */
static int make_dirs_above(const char *name) {
  char path[4096];
  snprintf(path, sizeof path, "%s", name);
  for (char *s = strchr(path + 1, '/'); s; s = strchr(s + 1, '/')) {
    *s = 0;
    int bad = mkdir(path, 0700) < 0 && errno != EEXIST;
    *s = '/';
    if (bad) return -1;
  }
  return 0;
}

static int find_object(const char *key) {
  for (int i = 0; i < nobjects; i++) if (strcmp(objects[i].key, key) == 0) return i;
  return -1;
}

static int page_is_zero(const char *p, size_t n) {
  for (size_t i = 0; i < n; i++) if (p[i]) return 0;
  return 1;
}

/* Where the next bytes stored at or after `off` start, and *end where they
 * stop; `size` when only holes (zeros) are left. */
static uint64_t next_data(int fd, uint64_t off, uint64_t size, uint64_t *end) {
  off_t at = lseek(fd, (off_t)off, SEEK_DATA);
  *end = size;
  if (at < 0) return errno == ENXIO ? size : off;   /* no SEEK_DATA: read it all */
  if ((uint64_t)at >= size) return size;
  off_t hole = lseek(fd, at, SEEK_HOLE);
  if (hole >= 0 && (uint64_t)hole < size) *end = (uint64_t)hole;
  return (uint64_t)at;
}

/* Calls `use` on every stored piece of [0, size) in order, with the
 * length of the hole before it; 0, or -1 when a read fails. */
static int scan(int fd, uint64_t size, void (*use)(void *ctx, uint64_t hole, uint64_t off, const char *p, size_t n),
                void *ctx) {
  for (uint64_t off = 0; off < size;) {
    uint64_t end, at = next_data(fd, off, size, &end);
    uint64_t hole = at - off;
    for (off = at; off < end;) {
      ssize_t n = pread(fd, buf, end - off < sizeof buf ? end - off : sizeof buf, (off_t)off);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return -1;
      use(ctx, hole, off, buf, (size_t)n);
      hole = 0;
      off += (uint64_t)n;
    }
    if (hole) use(ctx, hole, off, NULL, 0);
  }
  return 0;
}

static void add_to_crc(void *ctx, uint64_t hole, uint64_t off, const char *p, size_t n) {
  (void)off;
  uint32_t *crc = ctx;
  *crc = crc32c(crc32c_zeros(*crc, hole), p, n);
}

/* The saved contents of o are whole: SIZE bytes then the trailer with
 * their CRC-32C. Checked for every object before any is made. */
static int verify_data(const struct object *o) {
  int fd = open(o->data, O_RDONLY | O_CLOEXEC);
  if (fd < 0) { fprintf(stderr, "stasis-restart: %s: %s\n", o->data, strerror(errno)); return -1; }
  struct stat st = { 0 };
  char trailer[TRAILER_LEN + 1] = "";
  unsigned want = 0;
  char nl = 0;
  uint32_t crc = 0;
  int rc = -1;
  if (fstat(fd, &st) < 0 || (uint64_t)st.st_size != o->size + TRAILER_LEN)
    fprintf(stderr, "stasis-restart: %s: corrupt (truncated or extended: %lld bytes, not %llu)\n", o->data,
            (long long)st.st_size, (unsigned long long)(o->size + TRAILER_LEN));
  else if (pread(fd, trailer, TRAILER_LEN, (off_t)o->size) != TRAILER_LEN ||
           sscanf(trailer, "end crc32c:%8x%c", &want, &nl) != 2 || nl != '\n' ||
           scan(fd, o->size, add_to_crc, &crc) < 0 || crc != want)
    fprintf(stderr, "stasis-restart: %s: corrupt (checksum mismatch)\n", o->data);
  else rc = 0;
  close(fd);
  return rc;
}

struct fill_target { int fd; char *mem; int failed; };

static void put_back(void *ctx, uint64_t hole, uint64_t off, const char *p, size_t n) {
  (void)hole;
  struct fill_target *t = ctx;
  if (!n || page_is_zero(p, n)) return;   /* the object is new: zero already */
  if (t->mem) memcpy(t->mem + off, p, n);
  else if (pwrite(t->fd, p, n, (off_t)off) != (ssize_t)n) t->failed = 1;
}

/* Copies the (verified) saved contents into the object: through fd, or
 * into memory at `mem` (a SysV segment). */
static int fill(const char *data, int fd, char *mem, uint64_t size) {
  int src = open(data, O_RDONLY | O_CLOEXEC);
  if (src < 0) { fprintf(stderr, "stasis-restart: %s: %s\n", data, strerror(errno)); return -1; }
  struct fill_target t = { fd, mem, 0 };
  int rc = scan(src, size, put_back, &t);
  close(src);
  if (rc < 0 || t.failed) { fprintf(stderr, "stasis-restart: writing %s back: %s\n", data, strerror(errno)); return -1; }
  return 0;
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

static int make_object(struct object *o) {
  const char *kind = o->kind, *name = o->name, *data = o->data;
  uint64_t size = o->size;
  unsigned mode = o->mode;
  if (strcmp(kind, "sysv") == 0) {
    o->sysv_id = make_sysv(name, size, mode, data);
    if (o->sysv_id == -2) return -1;
  } else {
    if (strcmp(kind, "anon") == 0) o->fd = make_anon(size);
    else if (strcmp(kind, "memfd") == 0) o->fd = memfd_create(strncmp(name, "/memfd:", 7) == 0 ? name + 7 : name, MFD_CLOEXEC);
    else if (strcmp(kind, "file") == 0) {
      o->fd = open(name, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
      if (o->fd < 0 && errno == ENOENT && make_dirs_above(name) == 0) o->fd = open(name, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
      if (o->fd >= 0) fchmod(o->fd, mode);
    } else if (strcmp(kind, "deleted") == 0) o->fd = make_nameless(name, mode);
    if (o->fd >= 0 && (ftruncate(o->fd, size) < 0 || fill(data, o->fd, NULL, size) < 0)) return -1;
  }
  if (o->fd < 0 && o->sysv_id < 0) {
    fprintf(stderr, "stasis-restart: %s: cannot make shared memory %s (%s %s): %s\n", o->shm_file, o->key, kind, name,
            strerror(errno));
    return -1;
  }
  return 0;
}

/* An object line: recorded (once per key) to be checked and made later. */
static int add_object(const char *shm_file, const char *kind, const char *key, uint64_t size, unsigned mode,
                      const char *name) {
  if (find_object(key) >= 0) return 0;
  if (strcmp(kind, "sysv") && strcmp(kind, "anon") && strcmp(kind, "memfd") && strcmp(kind, "file") &&
      strcmp(kind, "deleted")) {
    fprintf(stderr, "stasis-restart: %s: unknown shared memory kind '%s'\n", shm_file, kind);
    return -1;
  }
  objects = realloc(objects, (nobjects + 1) * sizeof *objects);
  struct object *o = &objects[nobjects++];
  *o = (struct object){ .size = size, .mode = mode, .fd = -1, .sysv_id = -1,
                        .name = strdup(name), .shm_file = strdup(shm_file) };
  snprintf(o->key, sizeof o->key, "%s", key);
  snprintf(o->kind, sizeof o->kind, "%s", kind);
  const char *slash = strrchr(shm_file, '/');
  snprintf(o->data, sizeof o->data, "%.*sshm-%s.data", slash ? (int)(slash - shm_file + 1) : 0, shm_file, key);
  for (char *c = strrchr(o->data, '/') ? strrchr(o->data, '/') + 1 : o->data; *c; c++) if (*c == ':') *c = '-';
  return 0;
}

/* IMAGE.shm, verified by its trailer. */
static int read_records(const char *image) {
  char *text;
  size_t len;
  if (side_file_read(image, "shm", &text, &len) < 0) return -1;
  if (!text) return 0;
  char path[4200];
  snprintf(path, sizeof path, "%s.shm", image);
  int rc = 0;
  for (char *line = text, *next; rc == 0 && *line; line = next) {
    next = line + strcspn(line, "\n");
    if (*next) *next++ = 0;
    char kind[16], key[320];
    unsigned long long size, start, end, off;
    unsigned mode;
    int pos = 0;
    if (sscanf(line, "object %15s %319s %llu %o %n", kind, key, &size, &mode, &pos) == 4 && pos) {
      rc = add_object(path, kind, key, size, mode, line + pos);
    } else if (sscanf(line, "map %llx %llx %llx %319s", &start, &end, &off, key) == 4 && find_object(key) >= 0) {
      maps = realloc(maps, (nmaps + 1) * sizeof *maps);
      maps[nmaps++] = (struct shm_map){ image, start, end, off, find_object(key) };
    } else {
      fprintf(stderr, "stasis-restart: %s: malformed line '%s'\n", path, line);
      rc = -1;
    }
  }
  free(text);
  return rc;
}

/* Every image's records, then every object's contents checked, and only
 * then anything made: a damaged file leaves /dev/shm and SysV untouched. */
int shm_prepare(int count, const char *const *images) {
  for (int i = 0; i < count; i++)
    if (read_records(images[i]) < 0) return -1;
  for (int i = 0; i < nobjects; i++)
    if (verify_data(&objects[i]) < 0) return -1;
  for (int i = 0; i < nobjects; i++)
    if (make_object(&objects[i]) < 0) return -1;
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
