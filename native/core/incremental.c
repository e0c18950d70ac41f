/* Incremental images (STASIS_INCREMENTAL=1, docs/image-format.md
 * "Incremental images"). Beside each image the writer leaves X.img.index:
 * the content hash (XXH3-128) of every PAGES run the image restores and
 * where its bytes really are (this file, or an older one it references).
 * The next checkpoint of the process reads the index of the store's
 * `latest` generation, hashes its runs first (the planning pass), and
 * writes a run whose hash is there as a REF record to that record. Each
 * file referenced is hard-linked into the new generation as X.img.gNNNNNN
 * (NNNNNN: the generation that wrote it), so every generation directory is
 * whole by itself and pruning one only drops its links. A file is
 * referenced only while at least half of its bytes are still wanted, and
 * at most MAX_REFS of them: the dead bytes kept alive stay bounded.
 * Runs on the writer (stopped, or the forked copy): no malloc. */
#include "core.h"
#include "crc32c.h"
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdatomic.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#define XXH_INLINE_ALL
#include <xxhash.h>

struct window;
#define MAX_FILES 64   /* files an index may name */
#define MAX_REFS 16    /* files one image may reference */

struct file { int gen; uint64_t bytes, live; uint32_t checksum; int accepted, used, fd; };
struct chunk { int file; uint64_t offset, stored, len, hash[2]; uint32_t header_crc; uint64_t addr; };
struct out { int gen; uint64_t offset, stored, len, hash[2]; uint32_t header_crc; uint64_t addr; };

static struct {
  int active, gen, prev;
  char dir[4096], base[256], prev_dir[4200];
  struct file files[MAX_FILES];
  int nfiles;
  struct chunk *chunks; size_t nchunks, chunks_cap;
  int *table; size_t table_cap;
  struct incr_run *runs, scratch; size_t nruns, runs_cap, cursor;
  struct out *outs; size_t nouts, outs_cap;
  char ref_name[300];
} S;

/* Grows an mmap'd array to hold `need` elements. */
static int grow(void **p, size_t *cap, size_t elem, size_t need) {
  if (need <= *cap) return 0;
  size_t n = *cap ? *cap : 256;
  while (n < need) n *= 2;
  void *q = *p ? mremap(*p, *cap * elem, n * elem, MREMAP_MAYMOVE)
               : mmap(NULL, n * elem, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (q == MAP_FAILED) return -1;
  *p = q;
  *cap = n;
  return 0;
}

void stasis_hash_avx2(const void *p, uint64_t len, uint64_t out[2]);

void stasis_hash128(const void *p, uint64_t len, uint64_t out[2]) {
  static int avx2 = -1;
  if (avx2 < 0) avx2 = __builtin_cpu_supports("avx2");
  if (avx2) { stasis_hash_avx2(p, len, out); return; }
  XXH128_hash_t h = XXH3_128bits(p, len);
  out[0] = h.low64;
  out[1] = h.high64;
}

static void hash(const void *p, uint64_t len, uint64_t out[2]) { stasis_hash128(p, len, out); }

static void unmap(void *p, size_t bytes) { if (p && bytes) munmap(p, bytes); }

/* Name of the file of generation `gen` as the directory of generation `in` holds it. */
static void file_name(char *out, size_t cap, int gen, int in) {
  if (gen == in) snprintf(out, cap, "%s", S.base);
  else snprintf(out, cap, "%s.g%06d", S.base, gen);
}

static int add_file(int gen, uint64_t bytes, uint32_t checksum) {
  for (int i = 0; i < S.nfiles; i++) if (S.files[i].gen == gen) return i;
  if (S.nfiles == MAX_FILES) return -1;
  S.files[S.nfiles] = (struct file){ .gen = gen, .bytes = bytes, .checksum = checksum, .fd = -1 };
  return S.nfiles++;
}

static void table_put(size_t i) {
  size_t mask = S.table_cap - 1;
  for (size_t h = S.chunks[i].hash[0] & mask;; h = (h + 1) & mask)
    if (S.table[h] < 0) { S.table[h] = (int)i; return; }
}

static int table_find(const uint64_t hash[2], uint64_t len) {
  if (!S.table_cap) return -1;
  size_t mask = S.table_cap - 1;
  for (size_t h = hash[0] & mask; S.table[h] >= 0; h = (h + 1) & mask) {
    const struct chunk *c = &S.chunks[S.table[h]];
    if (c->hash[0] == hash[0] && c->hash[1] == hash[1] && c->len == len) return S.table[h];
  }
  return -1;
}

/* The previous index, checked (trailer) and parsed; 0, or -1: write whole. */
static int read_index(const char *path) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  struct stat st;
  if (fd < 0 || fstat(fd, &st) < 0 || st.st_size < 20) { if (fd >= 0) close(fd); return -1; }
  size_t size = (size_t)st.st_size;
  char *buf = mmap(NULL, size + 1, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
  close(fd);
  if (buf == MAP_FAILED) return -1;
  int rc = -1;
  char want[32];
  snprintf(want, sizeof want, "end crc32c:%08x\n", crc32c(0, buf, size - 20));
  if (memcmp(buf + size - 20, want, 20) != 0 || strncmp(buf, "stasis-index 1\n", 15) != 0) goto out;
  buf[size - 20] = 0;
  for (char *line = buf + 15, *nl; *line; line = nl + 1) {
    if (!(nl = strchr(line, '\n'))) goto out;
    *nl = 0;
    unsigned long long a, b, c, d, h0, h1, at;
    unsigned hc;
    int gen;
    if (sscanf(line, "file %d %llu %x", &gen, &a, &hc) == 3) {
      if (add_file(gen, a, hc) < 0) goto out;
    } else if (sscanf(line, "chunk %d %llu %llu %llu %x %llx %llx %llx", &gen, &a, &b, &c, &hc, &h0, &h1, &at) == 8) {
      int f = -1;
      for (int i = 0; i < S.nfiles; i++) if (S.files[i].gen == gen) f = i;
      if (f < 0 || grow((void **)&S.chunks, &S.chunks_cap, sizeof *S.chunks, S.nchunks + 1) < 0) goto out;
      /* In address order (as written): a chunk before the last one is no index of ours. */
      if (S.nchunks && at < S.chunks[S.nchunks - 1].addr + S.chunks[S.nchunks - 1].len) goto out;
      S.chunks[S.nchunks++] = (struct chunk){ f, a, b, c, { h0, h1 }, hc, at };
    } else goto out;
    (void)d;
  }
  size_t cap = 16;
  while (cap < S.nchunks * 2) cap *= 2;
  S.table = mmap(NULL, cap * sizeof *S.table, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (S.table == MAP_FAILED) { S.table = NULL; goto out; }
  S.table_cap = cap;
  memset(S.table, 0xff, cap * sizeof *S.table);
  for (size_t i = 0; i < S.nchunks; i++) table_put(i);
  rc = 0;
out:
  munmap(buf, size + 1);
  if (rc < 0) { S.nchunks = 0; S.nfiles = 0; }
  return rc;
}

/* The windows' array; a restored process's copy of these names memory it
 * does not have (made after the map was read): incr_begin forgets them. */
static struct window *windows;
static size_t nwindows, windows_cap, nslots;

int incr_generation_of(const char *path) {
  const char *slash = strrchr(path, '/');
  int gen = 0;
  if (!slash) return 0;
  const char *dir = slash;
  while (dir > path && dir[-1] != '/') dir--;
  if (sscanf(dir, ".gen-%d.tmp/", &gen) != 1) return 0;
  return gen > 0 ? gen : 0;
}

/* For choosing how to save before the image is written: the generation
 * `latest` names in the store of PATH (STORE/.gen-N.tmp/NAME) when it holds
 * an index for NAME (the next image is then planned against it), else 0. */
int incr_latest_generation(const char *path) {
  const char *slash = strrchr(path, '/');
  const char *gdir = slash;
  while (gdir && gdir > path && gdir[-1] != '/') gdir--;
  if (!slash || !gdir || gdir == path) return 0;
  char link[4200], target[64], index[4600];
  snprintf(link, sizeof link, "%.*slatest", (int)(gdir - path), path);
  ssize_t n = readlink(link, target, sizeof target - 1);
  int prev = 0;
  if (n <= 0) return 0;
  target[n] = 0;
  if (sscanf(target, "gen-%d", &prev) != 1 || prev <= 0) return 0;
  snprintf(index, sizeof index, "%.*s%s/%s.index", (int)(gdir - path), path, target, slash + 1);
  return access(index, R_OK) == 0 ? prev : 0;
}

int incr_begin(const char *path) {
  memset(&S, 0, sizeof S);
  windows = NULL;
  nwindows = windows_cap = nslots = 0;
  S.scratch.match = -1;
  if (!stasis_cfg.incremental) return 0;
  /* PATH is STORE/.gen-NNNNNN.tmp/NAME (docs/image-format.md, the store). */
  const char *slash = strrchr(path, '/');
  if (!slash || (size_t)(slash - path) >= sizeof S.dir || strlen(slash + 1) >= sizeof S.base) return 0;
  snprintf(S.dir, sizeof S.dir, "%.*s", (int)(slash - path), path);
  snprintf(S.base, sizeof S.base, "%s", slash + 1);
  char *gdir = strrchr(S.dir, '/');
  if (!gdir || sscanf(gdir, "/.gen-%d.tmp", &S.gen) != 1 || S.gen <= 0) return 0;
  S.active = 1;
  char link[4200], target[64];
  snprintf(link, sizeof link, "%.*s/latest", (int)(gdir - S.dir), S.dir);
  ssize_t n = readlink(link, target, sizeof target - 1);
  if (n <= 0) return 0;
  target[n] = 0;
  if (sscanf(target, "gen-%d", &S.prev) != 1 || S.prev <= 0 || S.prev >= S.gen) return 0;
  snprintf(S.prev_dir, sizeof S.prev_dir, "%.*s/%s", (int)(gdir - S.dir), S.dir, target);
  char index[4600];
  snprintf(index, sizeof index, "%s/%s.index", S.prev_dir, S.base);
  if (read_index(index) < 0) {
    if (access(index, F_OK) == 0) stasis_log("%s: unreadable or damaged: this image is written whole", index);
    return 0;
  }
  return S.nchunks > 0;
}

/* 8 MiB windows of memory to plan: each is scanned and its runs hashed by
 * one thread, into slots of its own (at most one run per two pages). */
struct window { uint64_t start, end; int pagemap; size_t first, n; };

void incr_window(uint64_t start, uint64_t end, int use_pagemap) {
  for (uint64_t a = start; a < end;) {
    uint64_t stop = (a / (8u << 20) + 1) * (8u << 20);
    if (stop > end) stop = end;
    if (grow((void **)&windows, &windows_cap, sizeof *windows, nwindows + 1) < 0) return;
    size_t pages = (stop - a) / IMG_PAGE;
    windows[nwindows++] = (struct window){ a, stop, use_pagemap, nslots, 0 };
    nslots += (pages + 1) / 2;
    a = stop;
  }
}

const struct incr_run *incr_planned(size_t *n) {
  *n = S.nruns;
  return S.runs;
}

/* Scanning and hashing on every CPU (workers.c). */
static atomic_size_t hash_next;

static void emit(uint64_t addr, uint64_t len, void *arg) {
  struct window *w = arg;
  struct incr_run *r = &S.runs[w->first + w->n++];
  *r = (struct incr_run){ addr, len, { 0, 0 }, 1, -1 };
  hash((const void *)addr, len, r->hash);
}

/* A window the program did not write since the previous image's cut:
 * that image's runs there, as they were, neither read nor hashed. */
static int reuse(struct window *w) {
  if (w->pagemap != SCAN_ANON || !track_unwritten(S.prev, w->start, w->end)) return 0;
  size_t lo = 0, hi = S.nchunks;
  while (lo < hi) {
    size_t mid = (lo + hi) / 2;
    if (S.chunks[mid].addr < w->start) lo = mid + 1; else hi = mid;
  }
  for (size_t i = lo; i < S.nchunks && S.chunks[i].addr < w->end; i++) {
    const struct chunk *c = &S.chunks[i];
    if (c->addr + c->len > w->end) return w->n = 0, 0;   /* not one of our windows' runs: scan it */
    S.runs[w->first + w->n++] = (struct incr_run){ c->addr, c->len, { c->hash[0], c->hash[1] }, 1, (int)i };
  }
  return 1;
}

static void hash_work(void *arg) {
  (void)arg;
  for (size_t i; (i = atomic_fetch_add(&hash_next, 1)) < nwindows;)
    if (!reuse(&windows[i])) image_scan_window(windows[i].start, windows[i].end, windows[i].pagemap, emit, &windows[i]);
}

static void hash_plan(void) {
  S.nruns = 0;
  if (grow((void **)&S.runs, &S.runs_cap, sizeof *S.runs, nslots + 1) < 0) { nwindows = 0; return; }
  int helpers = workers_cpus() - 1;
  if ((size_t)helpers > nwindows / 4) helpers = (int)(nwindows / 4);
  atomic_store(&hash_next, 0);
  uint64_t warm[2];
  hash("", 0, warm);   /* the CPU check, before the threads read it */
  struct workers ws;
  workers_start(&ws, helpers, hash_work, NULL);
  hash_work(NULL);
  workers_join(&ws);
  /* The windows' runs, in address order, packed. */
  for (size_t i = 0; i < nwindows; i++) {
    memmove(&S.runs[S.nruns], &S.runs[windows[i].first], windows[i].n * sizeof *S.runs);
    S.nruns += windows[i].n;
  }
}

/* Bytes of the record at `offset` of file f: header, alignment, payload. */
static uint64_t record_span(const struct chunk *c) {
  uint64_t p = c->offset + sizeof(struct rec_header);
  return (p + IMG_PAGE - 1) / IMG_PAGE * IMG_PAGE - c->offset + c->stored;
}

void incr_plan_done(void) {
  hash_plan();
  for (size_t i = 0; i < S.nruns; i++)
    if (S.runs[i].match < 0) S.runs[i].match = table_find(S.runs[i].hash, S.runs[i].len);
  for (size_t i = 0; i < S.nruns; i++)
    if (S.runs[i].match >= 0) S.files[S.chunks[S.runs[i].match].file].live += record_span(&S.chunks[S.runs[i].match]);
  /* At least half of a file wanted, then the MAX_REFS files most wanted. */
  for (int k = 0; k < MAX_REFS; k++) {
    int best = -1;
    for (int i = 0; i < S.nfiles; i++) {
      struct file *f = &S.files[i];
      if (f->accepted || f->live * 2 < f->bytes || f->live == 0) continue;
      if (best < 0 || f->live > S.files[best].live) best = i;
    }
    if (best < 0) break;
    struct file *f = &S.files[best];
    f->accepted = 1;
    char name[300], src[4600], dst[4400];
    file_name(name, sizeof name, f->gen, S.prev);
    snprintf(src, sizeof src, "%s/%s", S.prev_dir, name);
    file_name(name, sizeof name, f->gen, S.gen);
    snprintf(dst, sizeof dst, "%s/%s", S.dir, name);
    struct stat st;
    f->fd = open(src, O_RDONLY | O_CLOEXEC);
    if (f->fd < 0 || fstat(f->fd, &st) < 0 || (uint64_t)st.st_size != f->bytes || link(src, dst) < 0) {
      stasis_log("%s: cannot reference it (%s): its unchanged chunks are written again", src,
                 f->fd >= 0 && (uint64_t)st.st_size != f->bytes ? "size differs from its index" : strerror(errno));
      if (f->fd >= 0) close(f->fd);
      f->fd = -1;
      f->accepted = -1;   /* tried: not again, not referenced */
    }
  }
}

struct incr_run *incr_next(uint64_t addr, uint64_t len, const char **name, uint64_t *offset, uint32_t *header_crc) {
  *name = NULL;
  struct incr_run *r = &S.scratch;
  if (S.cursor < S.nruns && S.runs[S.cursor].addr == addr && S.runs[S.cursor].len == len) r = &S.runs[S.cursor++];
  else S.scratch = (struct incr_run){ addr, len, { 0, 0 }, 0, -1 };
  if (r->match < 0) return r;
  const struct chunk *c = &S.chunks[r->match];
  struct file *f = &S.files[c->file];
  if (f->accepted != 1) return r;
  /* The record must still be the one the index names. */
  struct rec_header h;
  if (pread(f->fd, &h, sizeof h, (off_t)c->offset) != (ssize_t)sizeof h || h.magic != REC_MAGIC || h.type != REC_PAGES ||
      crc32c(0, &h, 36) != h.header_crc || h.header_crc != c->header_crc || h.raw_len != len || h.stored_len != c->stored)
    return r;
  file_name(S.ref_name, sizeof S.ref_name, f->gen, S.gen);
  *name = S.ref_name;
  *offset = c->offset;
  *header_crc = c->header_crc;
  return r;
}

static void add_out(struct out o) {
  if (grow((void **)&S.outs, &S.outs_cap, sizeof *S.outs, S.nouts + 1) == 0) S.outs[S.nouts++] = o;
}

void incr_written(struct incr_run *r, uint64_t addr, uint64_t len, const void *raw, uint64_t rec_off, uint64_t stored,
                  uint32_t header_crc) {
  if (!S.active) return;
  if (r->hashed <= 0) hash(raw, len, r->hash);
  add_out((struct out){ S.gen, rec_off, stored, len, { r->hash[0], r->hash[1] }, header_crc, addr });
}

void incr_referenced(struct incr_run *r) {
  const struct chunk *c = &S.chunks[r->match];
  S.files[c->file].used = 1;
  add_out((struct out){ S.files[c->file].gen, c->offset, c->stored, c->len, { c->hash[0], c->hash[1] }, c->header_crc, r->addr });
}

int incr_finish(const char *path, struct image_stats *st) {
  st->files[0] = 0;
  if (!S.active) return 0;
  size_t used = 0;
  for (int i = 0; i < S.nfiles; i++) {
    struct file *f = &S.files[i];
    if (f->accepted != 1) continue;
    char name[300], dst[4400];
    file_name(name, sizeof name, f->gen, S.gen);
    snprintf(dst, sizeof dst, "%s/%s", S.dir, name);
    if (!f->used) { unlink(dst); continue; }
    used += (size_t)snprintf(st->files + used, sizeof st->files - used, " ref:g%06d:%llu:crc32c:%08x", f->gen,
                             (unsigned long long)f->bytes, f->checksum);
  }
  char index[4200];
  snprintf(index, sizeof index, "%s.index", path);
  int fd = open(index, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) { stasis_fail("cannot write %s: %s", index, strerror(errno)); return -1; }
  static char buf[65536];
  size_t n = 0;
  uint64_t total = 0;
  uint32_t crc = 0;
  int rc = 0;
  n += (size_t)snprintf(buf, sizeof buf, "stasis-index 1\nfile %d %llu %08x\n", S.gen, (unsigned long long)st->bytes, st->checksum);
  for (int i = 0; i < S.nfiles; i++)
    if (S.files[i].accepted == 1 && S.files[i].used)
      n += (size_t)snprintf(buf + n, sizeof buf - n, "file %d %llu %08x\n", S.files[i].gen,
                            (unsigned long long)S.files[i].bytes, S.files[i].checksum);
  for (size_t i = 0; i <= S.nouts && rc == 0; i++) {
    if (i < S.nouts) {
      const struct out *o = &S.outs[i];
      n += (size_t)snprintf(buf + n, sizeof buf - n, "chunk %d %llu %llu %llu %08x %016llx %016llx %llx\n", o->gen,
                            (unsigned long long)o->offset, (unsigned long long)o->stored, (unsigned long long)o->len,
                            o->header_crc, (unsigned long long)o->hash[0], (unsigned long long)o->hash[1],
                            (unsigned long long)o->addr);
    }
    if (n > sizeof buf - 256 || i == S.nouts) {
      crc = crc32c(crc, buf, n);
      total += n;
      if (i == S.nouts) n += (size_t)snprintf(buf + n, sizeof buf - n, "end crc32c:%08x\n", crc);
      if (write(fd, buf, n) != (ssize_t)n) rc = -1;
      n = 0;
    }
  }
  if (rc == 0 && fsync(fd) < 0) rc = -1;
  close(fd);
  if (rc < 0) { stasis_fail("cannot write %s: %s", index, strerror(errno)); return -1; }
  snprintf(st->files + used, sizeof st->files - used, " index:%llu:crc32c:%08x", (unsigned long long)total + 20, crc);
  return 0;
}

void incr_end(void) {
  for (int i = 0; i < S.nfiles; i++) if (S.files[i].fd >= 0) close(S.files[i].fd);
  unmap(S.chunks, S.chunks_cap * sizeof *S.chunks);
  unmap(S.table, S.table_cap * sizeof *S.table);
  unmap(S.runs, S.runs_cap * sizeof *S.runs);
  unmap(S.outs, S.outs_cap * sizeof *S.outs);
  unmap(windows, windows_cap * sizeof *windows);
  windows = NULL;
  nwindows = windows_cap = nslots = 0;
  memset(&S, 0, sizeof S);
}
