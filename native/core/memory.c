/* The memory map of this process, from /proc/self/maps, classified into
 * regions the image format knows. Storage comes from mmap (never malloc:
 * a suspended thread may hold the malloc lock) and the map's own buffers
 * are left out of it. */
#include "core.h"
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static char *text;
static size_t text_cap;

/* The whole of /proc/self/maps in a fresh buffer. Each call starts at 1 MiB
 * and doubles only while the map does not fit: nothing carries over from
 * one checkpoint to the next. */
static int slurp_maps(size_t *len) {
  for (size_t cap = 1 << 20;; cap *= 2) {
    text = mmap(NULL, cap, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (text == MAP_FAILED) { text = NULL; return -1; }
    text_cap = cap;
    int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    size_t n = 0;
    ssize_t r;
    while (n < cap - 1 && (r = read(fd, text + n, cap - 1 - n)) > 0) n += r;
    close(fd);
    if (n < cap - 1) { text[n] = 0; *len = n; return 0; }
    munmap(text, cap);
    text = NULL;
    text_cap *= 2;   /* only when the map did not fit: not once per checkpoint */
  }
}

static void classify(struct region *r, const char *perms, const char *path) {
  r->prot = (perms[0] == 'r' ? PROT_READ : 0) | (perms[1] == 'w' ? PROT_WRITE : 0) |
            (perms[2] == 'x' ? PROT_EXEC : 0);
  r->flags = perms[3] == 's' ? RGN_SHARED : 0;
  snprintf(r->path, sizeof r->path, "%s", path);
  if (strcmp(path, "[heap]") == 0) r->flags |= RGN_HEAP;
  else if (strcmp(path, "[stack]") == 0) r->flags |= RGN_STACK;
  else if (path[0] == '/') {
    size_t n = strlen(r->path);
    const char *del = " (deleted)";
    if (n > 10 && strcmp(r->path + n - 10, del) == 0) { r->flags |= RGN_DELETED; r->path[n - 10] = 0; }
    int pseudo = strncmp(path, "/dev/zero", 9) == 0 || strncmp(path, "/SYSV", 5) == 0 ||
                 strncmp(path, "/memfd:", 7) == 0;
    if (!pseudo) r->flags |= RGN_FILE;
  }
  /* Shared mappings of real files are mapped again from the file; all else
   * is saved. PROT_NONE areas are reservations and guard pages. */
  int from_file = (r->flags & RGN_SHARED) && (r->flags & RGN_FILE) && !(r->flags & RGN_DELETED);
  if (!from_file && r->prot != 0) r->flags |= RGN_CONTENTS;
  /* Shared memory another plugin saves once for all its holders. */
  if ((r->flags & RGN_SHARED) && plugins_claim_memory(r->start, r->end)) {
    r->flags |= RGN_OBJECT;
    r->flags &= ~RGN_CONTENTS;
  }
}

/* The kernel may merge our buffers with neighbouring anonymous memory, so
 * they are cut out of whatever line holds them. */
struct file_of { uint64_t ino; unsigned int major, minor; };

static void add_range(struct memory_map *m, uint64_t start, uint64_t end, uint64_t off,
                      const char *perms, const char *path, const struct file_of *file) {
  const uint64_t ours[2][2] = {
    { (uint64_t)text, (uint64_t)text + text_cap },
    { (uint64_t)m->regions, (uint64_t)m->regions + sizeof(struct region) * m->cap },
  };
  for (int i = 0; i < 2; i++) {
    uint64_t a = ours[i][0], b = ours[i][1];
    if (b <= start || a >= end) continue;
    if (a > start) add_range(m, start, a, off, perms, path, file);
    if (b < end) add_range(m, b, end, off + (b - start), perms, path, file);
    return;
  }
  if (m->count >= m->cap) { stasis_fail("more than %d memory regions", m->cap); return; }
  struct region *r = &m->regions[m->count++];
  r->start = start; r->end = end; r->offset = off;
  r->ino = file->ino; r->dev_major = file->major; r->dev_minor = file->minor;
  classify(r, perms, path);
}

int memory_read_map(struct memory_map *m) {
  memset(m, 0, sizeof *m);
  m->cap = 4096;
  m->regions = mmap(NULL, sizeof(struct region) * m->cap, PROT_READ | PROT_WRITE,
                    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (m->regions == MAP_FAILED) { m->regions = NULL; return -1; }
  size_t len;
  if (slurp_maps(&len) < 0) return -1;
  for (char *line = text; line && *line;) {
    char *nl = strchr(line, '\n');
    if (nl) *nl = 0;
    unsigned long start, end, off, inode;
    char perms[8], dev[32];
    int pathpos = 0;
    if (sscanf(line, "%lx-%lx %7s %lx %31s %lu %n", &start, &end, perms, &off, dev, &inode, &pathpos) >= 6) {
      const char *path = pathpos ? line + pathpos : "";
      if (strcmp(path, "[vvar]") == 0) { m->vvar[0] = start; m->vvar[1] = end; }
      else if (strcmp(path, "[vvar_vclock]") == 0) { m->vclock[0] = start; m->vclock[1] = end; }
      else if (strcmp(path, "[vdso]") == 0) { m->vdso[0] = start; m->vdso[1] = end; }
      else if (strcmp(path, "[vsyscall]") == 0 || strcmp(path, "[uprobes]") == 0) {}
      else {
        struct file_of file = { inode, 0, 0 };
        sscanf(dev, "%x:%x", &file.major, &file.minor);
        add_range(m, start, end, off, perms, path, &file);
      }
    }
    line = nl ? nl + 1 : NULL;
  }
  return stasis_failure() ? -1 : 0;
}

void memory_free_map(struct memory_map *m) {
  if (m->regions) munmap(m->regions, sizeof(struct region) * m->cap);
  m->regions = NULL;
  if (text) munmap(text, text_cap);
  text = NULL;
  text_cap = 0;
}

void memory_forget_buffers(void) {
  text = NULL;
  text_cap = 0;
}
