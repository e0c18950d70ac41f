/* Memory shared between processes: MAP_SHARED anonymous memory (after
 * fork: "/dev/zero (deleted)"), files in /dev/shm (shm_open, sem_open),
 * deleted files mapped shared, memfds and SysV segments.
 *
 * At SAVE each process finds, in its maps, every mapping of such an
 * object (named by device and inode) and writes beside its image
 * IMAGE.shm (a checksummed side file): one "object" line per object and
 * one "map" line per mapping (docs/image-format.md). The contents are saved
 * once per checkpoint, not once per holder: the first holder to create
 * GENDIR/shm-DEV-INO.data (O_EXCL) writes them, sparse, ending with the
 * side-file trailer (their CRC-32C), and lists the file with its own image;
 * all holders are stopped at the same barrier, so any of them sees the
 * same bytes. The core then stores these regions without
 * contents (a memory claim, RGN_OBJECT). At restart the loader makes every
 * object once before forking the tree and each process maps it where it
 * was (native/plugins/shm/loader.c): writes by one are seen by the others again. */
#include "../../core/core.h"
#include "../../core/crc32c.h"
#include "../fd/fdutil.h"
#include "shm.h"
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/shm.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#define MAX_MAPS 4096
#define MAX_OBJECTS 1024
static struct { unsigned long long start, end; } claimed[MAX_MAPS];
static int nclaimed;
#define KEY_MAX 320   /* origin, device, inode */
static char keys[MAX_OBJECTS][KEY_MAX];
static int nkeys;
static char *maps, *out;
static size_t maps_cap, out_cap, out_len;

/* The kind of shared object behind a maps path, or NULL when the core's
 * usual handling is right (a real file, mapped again from its path). */
static const char *kind_of(const char *path) {
  if (strncmp(path, "/dev/zero", 9) == 0) return "anon";
  if (strncmp(path, "/SYSV", 5) == 0) return "sysv";
  if (strncmp(path, "/memfd:", 7) == 0) return "memfd";
  if (path[0] == '/' && fdu_ends_with(path, " (deleted)")) return "deleted";
  if (strncmp(path, "/dev/shm/", 9) == 0) return "file";
  return NULL;
}

/* A file mapped under a name it no longer has may still have another in
 * the same directory: sem_open creates a temporary name, links the final
 * one and drops the first. Replaces `name` with it; 0 when found. */
static int linked_name(char *name, size_t cap, unsigned long long ino) {
  char dir[1024];
  snprintf(dir, sizeof dir, "%s", name);
  char *slash = strrchr(dir, '/');
  if (!slash) return -1;
  *slash = 0;
  int dfd = open(*dir ? dir : "/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0) return -1;
  char buf[8192];
  long n;
  int rc = -1;
  while (rc < 0 && (n = syscall(SYS_getdents64, dfd, buf, sizeof buf)) > 0)
    for (long off = 0; off < n;) {
      struct linux_dirent64 { unsigned long long d_ino; long long d_off; unsigned short d_reclen; unsigned char d_type; char d_name[]; } *d = (void *)(buf + off);
      if (d->d_ino == ino && strlen(dir) + strlen(d->d_name) + 2 <= cap) {
        memcpy(name + strlen(dir), "/", 2);
        memcpy(name, dir, strlen(dir));
        strcat(name, d->d_name);
        rc = 0;
        break;
      }
      off += d->d_reclen;
    }
  close(dfd);
  return rc;
}

static int emit(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int emit(const char *fmt, ...) {
  for (;;) {
    if (!out) { out_cap = 65536; if (!(out = fdu_alloc(out_cap))) return -1; }
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(out + out_len, out_cap - out_len, fmt, ap);
    va_end(ap);
    if (n >= 0 && (size_t)n < out_cap - out_len) { out_len += n; return 0; }
    char *bigger = fdu_alloc(out_cap * 2);
    if (!bigger) return -1;
    memcpy(bigger, out, out_len);
    fdu_free(out, out_cap);
    out = bigger;
    out_cap *= 2;
  }
}

/* Remembers the key; 1 when it was already known, -1 when full. */
static int seen_before(const char *key) {
  for (int i = 0; i < nkeys; i++) if (strcmp(keys[i], key) == 0) return 1;
  if (nkeys >= MAX_OBJECTS) return -1;
  snprintf(keys[nkeys++], sizeof keys[0], "%s", key);
  return 0;
}

static int page_is_zero(const char *p) {
  const unsigned long long *q = (const void *)p;
  for (int i = 0; i < 512; i++) if (q[i]) return 0;
  return 1;
}

/* Writes n bytes at off; 0 or -1. */
static int put(int dst, const char *p, size_t n, unsigned long long off) {
  for (size_t w = 0; w < n;) {
    ssize_t r = pwrite(dst, p + w, n - w, (off_t)(off + w));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return -1;
    w += (size_t)r;
  }
  return 0;
}

/* Contents of the object, non-zero pages only (the file stays sparse);
 * *crc gets their CRC-32C, zero pages included (counted, not read again).
 * From /proc/self/map_files when the kernel lets us open it (the whole
 * object), else through this mapping (the part this process maps; the rest
 * reads as zeros). */
static int copy_contents(int dst, int src, const char *mapping, unsigned long long map_off,
                         unsigned long long map_len, unsigned long long size, uint32_t *crc) {
  static char *buf;
  const size_t chunk = 1 << 20;
  if (!buf && !(buf = fdu_alloc(chunk))) return -1;
  unsigned long long zeros = 0;   /* zero bytes not yet in *crc */
  *crc = 0;
  for (unsigned long long off = 0, n; off < size; off += n) {
    n = size - off < chunk ? size - off : chunk;
    const char *data = buf;
    if (src >= 0) {
      if (fdu_pread_all(src, buf, n, off) < 0) return -1;
    } else if (off < map_off || off >= map_off + map_len) {
      n = off < map_off ? (map_off - off < n ? map_off - off : n) : size - off;
      zeros += n;
      continue;
    } else {
      if (n > map_off + map_len - off) n = map_off + map_len - off;
      data = mapping + (off - map_off);
    }
    for (size_t p = 0; p < n; p += 4096) {
      size_t len = n - p < 4096 ? n - p : 4096;
      if (len == 4096 && page_is_zero(data + p)) { zeros += len; continue; }
      *crc = crc32c(crc32c_zeros(*crc, zeros), data + p, len);
      zeros = 0;
      if (put(dst, data + p, len, off + p) < 0) return -1;
    }
  }
  *crc = crc32c_zeros(*crc, zeros);
  return 0;
}

/* GENDIR/shm-KEY.data, ':' as '-'; *name points at its last part. */
static void data_path(char *buf, size_t cap, const char *key, const char **name) {
  const char *slash = strrchr(stasis_save_path, '/');
  int dir = slash ? (int)(slash - stasis_save_path) : 1;
  snprintf(buf, cap, "%.*s/shm-%s.data", dir, slash ? stasis_save_path : ".", key);
  *name = strrchr(buf, '/') + 1;
  for (char *c = (char *)*name; *c; c++) if (*c == ':') *c = '-';
}

/* One shared mapping: its object line (first time) and its map line. */
static int save_mapping(unsigned long long start, unsigned long long end, unsigned long long off,
                        const char *perms, const char *dev, unsigned long long ino, const char *path) {
  const char *kind = kind_of(path);
  if (!kind) return 0;
  char key[KEY_MAX], name[1024], proc[96], origin[STASIS_HOST_MAX];
  /* Device and inode numbers are one kernel's: the origin host tells two
   * hosts' objects apart in one generation (file-name safe, ':' ends it). */
  snprintf(origin, sizeof origin, "%s", stasis_origin);
  for (char *c = origin; *c; c++)
    if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') || *c == '-' || *c == '.')) *c = '_';
  /* A SysV segment's inode in maps is its id, not a shmem inode. */
  if (strcmp(kind, "sysv") == 0) snprintf(key, sizeof key, "%s:sysv:%llu", origin, ino);
  else snprintf(key, sizeof key, "%s:%s:%llu", origin, dev, ino);
  snprintf(name, sizeof name, "%s", path);
  if (fdu_ends_with(name, " (deleted)")) name[strlen(name) - 10] = 0;
  if (nclaimed >= MAX_MAPS) { stasis_fail("more than %d shared memory mappings", MAX_MAPS); return -1; }
  claimed[nclaimed].start = start; claimed[nclaimed++].end = end;
  int seen = seen_before(key);
  if (seen < 0) { stasis_fail("more than %d shared memory objects", MAX_OBJECTS); return -1; }
  if (!seen) {
    snprintf(proc, sizeof proc, "/proc/self/map_files/%llx-%llx", start, end);
    int src = open(proc, O_RDONLY | O_CLOEXEC);
    struct stat st;
    unsigned long long size = off + (end - start);
    unsigned mode = 0600;
    if (src >= 0 && fstat(src, &st) == 0) {
      size = st.st_size;
      mode = st.st_mode & 07777;
      if (strcmp(kind, "deleted") == 0 && st.st_nlink > 0 && linked_name(name, sizeof name, st.st_ino) == 0) kind = "file";
    }
    else if (strcmp(kind, "file") == 0 && stat(name, &st) == 0) { size = st.st_size; mode = st.st_mode & 07777; }
    if (strcmp(kind, "sysv") == 0) {
      struct shmid_ds ds;
      if (shmctl((int)ino, IPC_STAT, &ds) < 0) {
        stasis_fail("SysV segment %llu mapped at %#llx: %s", ino, start, strerror(errno));
        if (src >= 0) close(src);
        return -1;
      }
      size = ds.shm_segsz;
      mode = ds.shm_perm.mode & 0777;
      snprintf(name, sizeof name, "%x %d", (unsigned)ds.shm_perm.__key, !!(ds.shm_perm.mode & SHM_DEST));
    }
    char data[4200];
    const char *data_name;
    data_path(data, sizeof data, key, &data_name);
    int dst = open(data, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    int rc = 0;
    if (dst >= 0) {
      int unreadable = src < 0 && perms[0] != 'r';
      uint32_t crc;
      if (unreadable) mprotect((void *)start, end - start, PROT_READ | (perms[1] == 'w' ? PROT_WRITE : 0));
      rc = copy_contents(dst, src, (const char *)start, off, end - start, size, &crc);
      if (unreadable) mprotect((void *)start, end - start, (perms[1] == 'w' ? PROT_WRITE : 0) | (perms[2] == 'x' ? PROT_EXEC : 0));
      /* Sealed (trailer, fsync) and listed with this process: any holder's
       * loader can check it against its own size and trailer. */
      if (rc == 0 && stasis_side_seal(dst, data_name, size, crc) < 0) { close(dst); if (src >= 0) close(src); return -1; }
      close(dst);
    } else if (errno != EEXIST) rc = -1;   /* EEXIST: another holder writes them */
    if (src >= 0) close(src);
    if (rc < 0) { stasis_fail("cannot save shared memory %s (%s): %s", key, path, strerror(errno)); return -1; }
    if (emit("object %s %s %llu %o %s\n", kind, key, size, mode, name) < 0) return -1;
  }
  if (strncmp(path, "/SYSV", 5) == 0 && off == 0) {
    struct shmid_ds ds;
    int dest = shmctl((int)ino, IPC_STAT, &ds) == 0 && (ds.shm_perm.mode & SHM_DEST);
    sysv_attached(start, (int)ino, dest);
  }
  return emit("map %llx %llx %llx %s %c\n", start, end, off, key, perms[1]);
}

static int save_all(void) {
  nclaimed = nkeys = 0;
  out_len = 0;
  sysv_forget_attached();
  if (!stasis_save_path) { stasis_fail("shm: no image path"); return -1; }
  ssize_t len = fdu_slurp("/proc/self/maps", &maps, &maps_cap);
  if (len < 0) { stasis_fail("cannot read /proc/self/maps: %s", strerror(errno)); return -1; }
  for (char *line = maps; line && *line;) {
    char *nl = strchr(line, '\n');
    if (nl) *nl = 0;
    unsigned long long start, end, off, ino;
    char perms[8], dev[32];
    int pathpos = 0;
    if (sscanf(line, "%llx-%llx %7s %llx %31s %llu %n", &start, &end, perms, &off, dev, &ino, &pathpos) >= 6 &&
        perms[3] == 's' && pathpos && save_mapping(start, end, off, perms, dev, ino, line + pathpos) < 0)
      return -1;
    line = nl ? nl + 1 : NULL;
  }
  if (out_len == 0) return 0;
  int side = stasis_side_open("shm");
  if (side < 0) return -1;
  if (stasis_side_write(side, out, out_len) < 0) { stasis_side_close(side); return -1; }
  return stasis_side_close(side);
}

static int shm_claim(unsigned long long start, unsigned long long end) {
  for (int i = 0; i < nclaimed; i++)
    if (start >= claimed[i].start && end <= claimed[i].end) return 1;
  return 0;
}

static int shm_event(enum stasis_event ev) {
  if (ev == STASIS_EVENT_SAVE) return save_all();
  if (ev == STASIS_EVENT_RESUME || ev == STASIS_EVENT_RESTART) nclaimed = 0;
  return 0;
}

static const struct stasis_plugin shm_plugin = { "shm", shm_event };
STASIS_REGISTER static void shm_register(void) {
  stasis_register_plugin(&shm_plugin);
  stasis_register_memory_claim(shm_claim);
}
