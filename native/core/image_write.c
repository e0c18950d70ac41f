/* Writes this process's image (docs/image-format.md): header, description,
 * then each region with its non-zero pages, then END; fsynced, mode 0600.
 * Runs on the checkpoint thread while every other thread is stopped. */
#include "core.h"
#include "crc32c.h"
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>
#define ZSTD_STATIC_LINKING_ONLY
#include <zstd.h>
#include <lz4.h>

#define RUN_MAX (8u << 20)
#define BUF_CAP (1u << 20)

struct writer {
  double t_compress, t_crc, t_write;
  int fd;
  int direct_fd;         /* --compress none: the same file opened O_DIRECT for raw payloads, or -1 */
  uint64_t off, records, memory_bytes;
  uint32_t sum;
  char *buf;
  size_t blen;
  ZSTD_CCtx *cctx;
  void *lz4_state;        /* LZ4_sizeofState() bytes: no malloc while the job is stopped */
  void *zws, *zout;
  size_t zws_size, zcap;
  int own_stack;         /* the region being written is the writer's stack or TLS (writers_own) */
  int raw;               /* ... or one stored uncompressed (stored_raw) */
  int code_raw;          /* read-only code and data stored uncompressed (choose_code_raw) */
  int aligned_runs;      /* incremental: runs end at 8 MiB boundaries, so one change moves no other */
  const struct incr_run *plan;   /* incremental: the runs the planning pass found, written without scanning again */
  size_t nplan, plan_at;
  uint64_t last_off;     /* where the last record's header starts */
  uint32_t last_header_crc;
  void *snapshot;        /* RUN_MAX bytes: a still copy of such a run */
  struct pack *pack;     /* the windows of packed() regions, worked on every CPU (image_pack.c) */
  struct pack_window *windows;
  size_t nwindows, windows_cap, window_at;
  int pack_threads;
};

static const char zero_page[IMG_PAGE];
pid_t stasis_image_pid;

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int write_all(int fd, const void *p, size_t n) {
  const char *c = p;
  while (n) {
    ssize_t w = write(fd, c, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return -1;
    c += w; n -= w;
  }
  return 0;
}

static int flush(struct writer *w) {
  if (w->blen && write_all(w->fd, w->buf, w->blen) < 0) return -1;
  w->blen = 0;
  return 0;
}

/* Start writeback of what was just written so the final fdatasync has
 * little left to wait for: the disk works while we compress and copy. */
static void start_writeback(struct writer *w, size_t n) {
  sync_file_range(w->fd, (off_t)(w->off - n), (off_t)n, SYNC_FILE_RANGE_WRITE);
}

static int put(struct writer *w, const void *p, size_t n);

/* A raw payload at a page-aligned offset, straight from the process's
 * memory to the disk: no copy into the page cache, no fresh page-cache
 * memory for a whole node's worth of image, no cached file evicted for
 * it. The buffered bytes before it are written first: the two never share
 * a page. A file system that refuses (EINVAL) gets buffered writes from
 * then on. Returns 1 when the caller is to write it buffered. */
static int put_direct(struct writer *w, const void *p, size_t n) {
  if (w->direct_fd < 0 || n % IMG_PAGE || w->off % IMG_PAGE || (uintptr_t)p % IMG_PAGE) return 1;
  if (flush(w) < 0) return -1;
  const char *c = p;
  uint64_t at = w->off;
  while (n) {
    ssize_t k = pwrite(w->direct_fd, c, n, (off_t)at);
    if (k < 0 && errno == EINTR) continue;
    if (k < 0 && errno == EINVAL && at == w->off) {
      stasis_debug("image: O_DIRECT refused (%s): buffered writes", strerror(errno));
      close(w->direct_fd);
      w->direct_fd = -1;
      return 1;
    }
    if (k <= 0) return -1;
    c += k; n -= (size_t)k; at += (uint64_t)k;
    if (n && (at % IMG_PAGE)) break;   /* a short write off a page boundary: the rest buffered */
  }
  w->off = at;
  if (lseek(w->fd, (off_t)at, SEEK_SET) < 0) return -1;
  return n ? put(w, c, n) : 0;
}

static int put(struct writer *w, const void *p, size_t n) {
  if (n >= BUF_CAP / 2) {
    if (flush(w) < 0 || write_all(w->fd, p, n) < 0) return -1;
    w->off += n;
    start_writeback(w, n);
    return 0;
  } else {
    if (w->blen + n > BUF_CAP && flush(w) < 0) return -1;
    memcpy(w->buf + w->blen, p, n);
    w->blen += n;
  }
  w->off += n;
  return 0;
}

static int record(struct writer *w, int type, int flags, uint64_t addr,
                  const void *payload, uint64_t stored, uint64_t raw, uint32_t crc) {
  struct rec_header h = { REC_MAGIC, (uint16_t)type, (uint16_t)flags, addr, stored, raw, crc, 0 };
  h.header_crc = crc32c(0, &h, 36);
  w->last_off = w->off;
  w->last_header_crc = h.header_crc;
  /* Not the header's own crc: a crc run over data followed by its crc ends
   * in a constant, which made the image checksum one number per record count. */
  w->sum = crc32c(w->sum, &h, 36);
  if (type != REC_END) w->records++;
  if (put(w, &h, sizeof h) < 0) return -1;
  if (flags & RECF_ALIGNED) {
    size_t pad = (IMG_PAGE - w->off % IMG_PAGE) % IMG_PAGE;
    if (pad && put(w, zero_page, pad) < 0) return -1;
  }
  if (!stored) return 0;
  if ((flags & RECF_ALIGNED) && !(flags & RECF_COMP_MASK)) {
    int rc = put_direct(w, payload, stored);
    if (rc <= 0) return rc;
  }
  return put(w, payload, stored);
}

static int simple_record(struct writer *w, int type, const void *p, size_t n) {
  return record(w, type, 0, 0, p, n, n, crc32c(0, p, n));
}

static int page_is_zero(const uint64_t *p) {
  for (int i = 0; i < IMG_PAGE / 8; i += 4)
    if (p[i] | p[i + 1] | p[i + 2] | p[i + 3]) return 0;
  return 1;
}

/* An unchanged run: a REF to the record that holds its bytes. */
static int write_ref(struct writer *w, const char *p, size_t len, const char *name, uint64_t offset, uint32_t header_crc) {
  char buf[sizeof(struct ref_rec) + REF_NAME_MAX];
  struct ref_rec rr = { offset, header_crc, (uint32_t)strlen(name) };
  if (rr.name_len > REF_NAME_MAX) return -1;
  memcpy(buf, &rr, sizeof rr);
  memcpy(buf + sizeof rr, name, rr.name_len);
  size_t n = sizeof rr + rr.name_len;
  w->memory_bytes += len;
  return record(w, REC_REF, 0, (uint64_t)p, buf, n, len, crc32c(0, buf, n));
}

static int write_run(struct writer *w, const char *p, size_t len) {
  struct incr_run *run = NULL;
  if (stasis_cfg.incremental) {
    const char *name;
    uint64_t offset;
    uint32_t header_crc;
    run = incr_next((uint64_t)p, len, &name, &offset, &header_crc);
    if (name) {
      if (write_ref(w, p, len, name, offset, header_crc) < 0) return -1;
      incr_referenced(run);
      return 0;
    }
  }
  w->memory_bytes += len;
  const void *data = p;
  size_t stored = len;
  int flags = RECF_ALIGNED;
  double t0 = now();
  /* Our own stack changes under us while we write: take a still copy, so
   * the checksum and the stored bytes are of the same contents. */
  if (w->own_stack && w->snapshot) {
    memcpy(w->snapshot, p, len);
    data = w->snapshot;
  }
  /* A run that shrinks by less than an eighth is stored raw: it can then be
   * mapped straight from the image at restart. */
  if (w->cctx && !w->raw) {
    size_t c = ZSTD_compressCCtx(w->cctx, w->zout, w->zcap, data, len, stasis_cfg.level);
    if (!ZSTD_isError(c) && c <= len - len / 8) { data = w->zout; stored = c; flags = RECF_ZSTD; }
  } else if (w->lz4_state && !w->raw) {
    int c = LZ4_compress_fast_extState(w->lz4_state, data, w->zout, (int)len, (int)w->zcap, stasis_cfg.level);
    if (c > 0 && (size_t)c <= len - len / 8) { data = w->zout; stored = (size_t)c; flags = RECF_LZ4; }
  }
  double t1 = now();
  uint32_t crc = crc32c(0, data, stored);
  double t2 = now();
  int rc = record(w, REC_PAGES, flags, (uint64_t)p, data, stored, len, crc);
  w->t_compress += t1 - t0; w->t_crc += t2 - t1; w->t_write += now() - t2;
  if (rc == 0 && run)
    incr_written(run, (uint64_t)p, len, w->own_stack && w->snapshot ? w->snapshot : (const void *)p, w->last_off, stored,
                 w->last_header_crc);
  return rc;
}

/* Pages never touched (neither present nor swapped) read as zero: skip them
 * without reading. Only for private anonymous memory, where that holds. */
static int pagemap_fd = -1;
static uint64_t pm_buf[8192];

/* The planned runs of this region (all before plan_at are of earlier ones). */
static int write_planned(struct writer *w, const struct region *r) {
  for (; w->plan_at < w->nplan && w->plan[w->plan_at].addr < r->end; w->plan_at++) {
    const struct incr_run *run = &w->plan[w->plan_at];
    if (run->addr >= r->start && write_run(w, (const char *)run->addr, run->len) < 0) return -1;
  }
  return 0;
}

/* Where a region's contents end: a file mapping ends with its file. */
static uint64_t region_end(const struct region *r) {
  uint64_t end = r->end;
  if (r->flags & RGN_FILE) {
    struct stat st;
    if (stat(r->path, &st) == 0 && (uint64_t)st.st_size > r->offset) {
      uint64_t avail = ((st.st_size - r->offset) + IMG_PAGE - 1) & ~(uint64_t)(IMG_PAGE - 1);
      if (r->start + avail < end) end = r->start + avail;
    }
  }
  return end;
}

/* Incremental planning: the runs of [start, end), at most one 8 MiB
 * window, as write_pages finds them (aligned runs), handed to `emit`.
 * Runs on the hashing threads: no static state. */
void image_scan_window(uint64_t start, uint64_t end, int use_pagemap, void (*emit)(uint64_t, uint64_t, void *), void *arg) {
  uint64_t pm[RUN_MAX / IMG_PAGE];
  size_t want = (end - start) / IMG_PAGE * 8;
  int have_pm = use_pagemap && pagemap_fd >= 0 && want <= sizeof pm &&
                pread(pagemap_fd, pm, want, (off_t)(start / IMG_PAGE * 8)) == (ssize_t)want;
  uint64_t run_start = 0;
  for (uint64_t a = start; a < end; a += IMG_PAGE) {
    int data;
    if (use_pagemap == SCAN_MAPFILE) data = !have_pm || filemap_changed(pm[(a - start) / IMG_PAGE]);
    else data = have_pm && !(pm[(a - start) / IMG_PAGE] >> 62) ? 0 : !page_is_zero((const uint64_t *)a);
    if (data && !run_start) run_start = a;
    if (run_start && !data) { emit(run_start, a - run_start, arg); run_start = 0; }
  }
  if (run_start) emit(run_start, end - run_start, arg);
}

/* How a region's pages are told apart: SCAN_ANON, pages never touched are
 * zero (pagemap); SCAN_MAPFILE, only pages the process changed are saved
 * (all of them when pagemap cannot say); 0: every non-zero page. */
static int scan_mode(const struct region *r) {
  if (r->flags & RGN_MAPFILE) return SCAN_MAPFILE;
  return pagemap_fd >= 0 && !(r->flags & (RGN_FILE | RGN_SHARED)) ? SCAN_ANON : 0;
}

static int write_pages(struct writer *w, const struct region *r) {
  if (w->plan && !w->own_stack) return write_planned(w, r);
  uint64_t end = region_end(r);
  int mapfile = (r->flags & RGN_MAPFILE) != 0;
  int use_pagemap = scan_mode(r) != 0;
  uint64_t run_start = 0, pm_base = 0, pm_count = 0;
  for (uint64_t a = r->start; a < end; a += IMG_PAGE) {
    int data;
    if (use_pagemap) {
      uint64_t idx = (a - r->start) / IMG_PAGE;
      if (idx >= pm_base + pm_count) {
        pm_base = idx;
        ssize_t n = pread(pagemap_fd, pm_buf, sizeof pm_buf, (a / IMG_PAGE) * 8);
        pm_count = n > 0 ? (uint64_t)n / 8 : 0;
        if (!pm_count) { use_pagemap = 0; pm_count = 0; }
      }
      uint64_t e = use_pagemap ? pm_buf[idx - pm_base] : (1ull << 63);
      if (mapfile) data = !use_pagemap || filemap_changed(e);
      else data = (e >> 62) ? !page_is_zero((const uint64_t *)a) : 0;
    } else {
      data = mapfile || !page_is_zero((const uint64_t *)a);
    }
    if (data && !run_start) run_start = a;
    if (run_start && (!data || a + IMG_PAGE - run_start >= RUN_MAX || (w->aligned_runs && (a + IMG_PAGE) % RUN_MAX == 0))) {
      uint64_t stop = data ? a + IMG_PAGE : a;
      if (write_run(w, (const char *)run_start, stop - run_start) < 0) return -1;
      run_start = 0;
    }
  }
  if (run_start && write_run(w, (const char *)run_start, end - run_start) < 0) return -1;
  return 0;
}

/* The region of the writing thread's stack, or of its TLS (a forked writer
 * runs on another stack than its thread's): both change while the image is
 * written (frames; errno, and the rseq area the kernel writes whenever the
 * writer is preempted), so they are copied still before being written. */
static int writers_own(const struct region *r) {
  uint64_t here = (uint64_t)__builtin_frame_address(0), tls = (uint64_t)__builtin_thread_pointer();
  return (here >= r->start && here < r->end) || (tls >= r->start && tls < r->end);
}

/* Regions whose windows the workers take: readable, not the writer's own
 * (changing while written), not of an incremental image (planned). */
static int packed(const struct region *r) {
  return (r->flags & RGN_CONTENTS) && (r->prot & PROT_READ) && !writers_own(r) && !stasis_cfg.incremental;
}

/* A program's code and read-only data (private file mappings it cannot
 * write). Stored raw when they are a small part of its memory, so that a
 * restart maps them from the image instead of decompressing them into fresh
 * memory before the program runs (3.3 MiB of libc, libstasis and the like:
 * 15-20 ms of every restart on a VM with shadow page tables, for about 2 MB
 * more image); a small process keeps its small image. */
static int read_only_code(const struct region *r) {
  return (r->flags & RGN_FILE) && !(r->flags & RGN_SHARED) && !(r->prot & PROT_WRITE);
}

static int stored_raw(const struct writer *w, const struct region *r) { return w->code_raw && read_only_code(r); }

static void choose_code_raw(struct writer *w, const struct memory_map *m) {
  uint64_t code = 0, all = 0;
  for (int i = 0; i < m->count; i++) {
    const struct region *r = &m->regions[i];
    if (!(r->flags & RGN_CONTENTS)) continue;
    all += r->end - r->start;
    if (read_only_code(r)) code += r->end - r->start;
  }
  w->code_raw = code * 32 <= all;
}

/* Every window of memory a packed region has, in order, cut at 8 MiB
 * boundaries (as incremental runs are, so that a change moves no other). */
static int plan_windows(struct writer *w, const struct memory_map *m) {
  for (int i = 0; i < m->count; i++) {
    const struct region *r = &m->regions[i];
    if (!packed(r)) continue;
    uint64_t end = region_end(r);
    for (uint64_t a = r->start; a < end;) {
      uint64_t stop = (a / RUN_MAX + 1) * RUN_MAX;
      if (stop > end) stop = end;
      if (w->nwindows == w->windows_cap) {
        size_t cap = w->windows_cap ? w->windows_cap * 2 : 1024;
        void *q = w->windows ? mremap(w->windows, w->windows_cap * sizeof *w->windows, cap * sizeof *w->windows, MREMAP_MAYMOVE)
                             : mmap(NULL, cap * sizeof *w->windows, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (q == MAP_FAILED) return -1;
        w->windows = q;
        w->windows_cap = cap;
      }
      w->windows[w->nwindows++] = (struct pack_window){ a, stop, scan_mode(r), stored_raw(w, r) };
      a = stop;
    }
  }
  return 0;
}

/* A packed region's runs, as the workers made them. */
static int write_packed(struct writer *w, const struct region *r) {
  for (; w->window_at < w->nwindows && w->windows[w->window_at].start < r->end; w->window_at++) {
    const struct pack_run *runs;
    size_t n = pack_take(w->pack, w->window_at, &runs);
    double t0 = now();
    for (size_t i = 0; i < n; i++) {
      w->memory_bytes += runs[i].len;
      if (record(w, REC_PAGES, runs[i].flags, runs[i].addr, runs[i].data, runs[i].stored, runs[i].len, runs[i].crc) < 0) return -1;
    }
    w->t_write += now() - t0;
    pack_release(w->pack, w->window_at);
  }
  return 0;
}

static int write_region(struct writer *w, const struct region *r) {
  char buf[sizeof(struct region_rec) + sizeof r->path + sizeof r->ident];
  struct region_rec rr = { r->start, r->end, r->offset, r->prot, r->flags, (uint32_t)strlen(r->path), 0 };
  memcpy(buf, &rr, sizeof rr);
  memcpy(buf + sizeof rr, r->path, rr.path_len);
  size_t n = sizeof rr + rr.path_len;
  if (r->flags & RGN_MAPFILE) { memcpy(buf + n, &r->ident, sizeof r->ident); n += sizeof r->ident; }
  if (simple_record(w, REC_REGION, buf, n) < 0) return -1;
  if (!(r->flags & RGN_CONTENTS)) return 0;
  if (w->pack && packed(r)) return write_packed(w, r);
  w->own_stack = writers_own(r);
  w->raw = stored_raw(w, r);
  int unreadable = !(r->prot & PROT_READ);
  if (unreadable && mprotect((void *)r->start, r->end - r->start, r->prot | PROT_READ) < 0) return -1;
  int rc = write_pages(w, r);
  if (unreadable) mprotect((void *)r->start, r->end - r->start, r->prot);
  return rc;
}

/* Incremental: every region with contents, but the writer's own (they
 * change while written: scanned again then, never referenced), is cut
 * into 8 MiB windows that the hashing threads scan and hash. */
static void plan(const struct memory_map *m) {
  for (int i = 0; i < m->count; i++) {
    const struct region *r = &m->regions[i];
    if (!(r->flags & RGN_CONTENTS) || writers_own(r)) continue;
    if (!(r->prot & PROT_READ)) mprotect((void *)r->start, r->end - r->start, r->prot | PROT_READ);
    incr_window(r->start, region_end(r), scan_mode(r));
  }
  incr_plan_done();
  for (int i = 0; i < m->count; i++) {
    const struct region *r = &m->regions[i];
    if ((r->flags & RGN_CONTENTS) && !(r->prot & PROT_READ)) mprotect((void *)r->start, r->end - r->start, r->prot);
  }
}

/* Fields of /proc/self/stat the kernel needs again (PR_SET_MM_MAP). */
static void read_mm_layout(struct image_header *h) {
  char buf[2048];
  int fd = open("/proc/self/stat", O_RDONLY | O_CLOEXEC);
  ssize_t n = fd >= 0 ? read(fd, buf, sizeof buf - 1) : -1;
  if (fd >= 0) close(fd);
  if (n <= 0) return;
  buf[n] = 0;
  char *p = strrchr(buf, ')');
  if (!p) return;
  unsigned long long v[64] = { 0 };
  int field = 2;  /* p points at the end of field 2 (comm) */
  char *save = NULL;
  for (char *tok = strtok_r(p + 1, " ", &save); tok && field < 63; tok = strtok_r(NULL, " ", &save)) {
    field++;
    v[field] = strtoull(tok, NULL, 10);
  }
  h->start_code = v[26]; h->end_code = v[27]; h->start_stack = v[28];
  h->start_data = v[45]; h->end_data = v[46]; h->start_brk = v[47];
  h->arg_start = v[48]; h->arg_end = v[49]; h->env_start = v[50]; h->env_end = v[51];
  h->brk = (uint64_t)syscall(SYS_brk, 0);
}

void stasis_restart_entry(struct restart_info *info);
void *stasis_restart_stack_top(void);

static int write_header(struct writer *w, const struct memory_map *m) {
  struct image_header h;
  memset(&h, 0, sizeof h);
  memcpy(h.magic, IMG_MAGIC, 8);
  h.version = IMG_VERSION;
  h.page_size = IMG_PAGE;
  h.pid = stasis_image_pid ? stasis_image_pid : getpid();
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  h.created_ns = (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
  h.restart_entry = (uint64_t)stasis_restart_entry;
  h.restart_info = (uint64_t)&stasis_restart_info;
  h.restart_stack = (uint64_t)stasis_restart_stack_top();
  h.main_fs = threads_main()->fs_base;
  h.vvar_start = m->vvar[0]; h.vvar_end = m->vvar[1];
  h.vclock_start = m->vclock[0]; h.vclock_end = m->vclock[1];
  h.vdso_start = m->vdso[0]; h.vdso_end = m->vdso[1];
  read_mm_layout(&h);
  return simple_record(w, REC_HEADER, &h, sizeof h);
}

static size_t json_str(char *out, size_t cap, const char *s) {
  size_t n = 0;
  if (n < cap) out[n++] = '"';
  for (; *s && n + 7 < cap; s++) {
    unsigned char c = *s;
    if (c == '"' || c == '\\') { out[n++] = '\\'; out[n++] = c; }
    else if (c < 0x20) n += snprintf(out + n, cap - n, "\\u%04x", c);
    else out[n++] = c;
  }
  if (n < cap) out[n++] = '"';
  return n;
}

static int write_meta(struct writer *w, const struct memory_map *m) {
  static char meta[65536], exe[1024], tmp[2048];
  struct utsname u;
  uname(&u);
  ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
  exe[n > 0 ? n : 0] = 0;
  size_t len = snprintf(meta, sizeof meta, "{\"pid\":%d,\"restarts\":%d,\"regions\":%d,\"host\":", stasis_image_pid ? stasis_image_pid : getpid(), stasis_restored, m->count);
  len += json_str(meta + len, sizeof meta - len, u.nodename);
  len += snprintf(meta + len, sizeof meta - len, ",\"origin\":");
  len += json_str(meta + len, sizeof meta - len, stasis_origin);
  len += snprintf(meta + len, sizeof meta - len, ",\"exe\":");
  len += json_str(meta + len, sizeof meta - len, exe);
  len += snprintf(meta + len, sizeof meta - len, ",\"threads\":[");
  for (int i = 0; i < stasis_nthreads && len < sizeof meta - 256; i++) {
    const struct thread_rec *t = &stasis_threads[i];
    len += snprintf(meta + len, sizeof meta - len, "%s{\"tid\":%d,\"name\":%.*s,\"main\":%s,\"checkpoint\":%s}",
                    i ? "," : "", t->tid, (int)json_str(tmp, sizeof tmp, t->name), tmp,
                    t->is_main ? "true" : "false", t->is_ckpt ? "true" : "false");
  }
  len += snprintf(meta + len, sizeof meta - len, "]}");
  return simple_record(w, REC_META, meta, len);
}

static void writer_close(struct writer *w) {
  if (w->pack) pack_end(w->pack, &w->t_compress, &w->t_crc, &w->pack_threads);
  w->pack = NULL;
  if (w->windows) munmap(w->windows, w->windows_cap * sizeof *w->windows);
  if (w->buf) munmap(w->buf, BUF_CAP);
  if (w->zws) munmap(w->zws, w->zws_size);
  if (w->zout) munmap(w->zout, w->zcap);
  if (w->snapshot) munmap(w->snapshot, RUN_MAX);
  if (w->lz4_state) munmap(w->lz4_state, (size_t)LZ4_sizeofState());
  if (pagemap_fd >= 0) close(pagemap_fd);
  pagemap_fd = -1;
  if (w->direct_fd >= 0) close(w->direct_fd);
  w->direct_fd = -1;
}

/* STASIS_FAULT=NAME or NAME@GEN (only in that generation), optionally
 * followed by :SECONDS (default 30), stops here so a test can kill the
 * process, or its coordinator, at a known point. */
extern int stasis_generation;
void stasis_fault_point(const char *name) {
  size_t n = strlen(name);
  if (strncmp(stasis_cfg.fault, name, n) != 0) return;
  const char *at = stasis_cfg.fault + n;
  if (*at == '@' ? atoi(at + 1) != stasis_generation : *at != 0 && *at != ':') return;
  const char *colon = strchr(at, ':');
  long seconds = colon ? atol(colon + 1) : 30;
  stasis_log("fault injection: %s (sleeping %ld s)", name, seconds);
  struct timespec ts = { seconds, 0 };
  nanosleep(&ts, NULL);
}

/* In a restored process the writer's buffers do not exist any more. */
void image_forget_buffers(void) {
  pagemap_fd = -1;
  track_forget();
  memory_forget_buffers();
}

int image_write(const char *path, struct image_stats *st) {
  struct memory_map m;
  struct writer w;
  double t_start = now();
  memset(&w, 0, sizeof w);
  w.direct_fd = -1;
  int rc = -1;
  if (memory_read_map(&m) < 0) { if (!stasis_failure()) stasis_fail("cannot read memory map"); goto out; }
  /* Buffers are made after the map was read, so they are not in the image. */
  w.buf = workers_map(BUF_CAP);
  w.snapshot = workers_map(RUN_MAX);
  if (stasis_cfg.compress == RECF_ZSTD) {
    w.zws_size = ZSTD_estimateCCtxSize(stasis_cfg.level);
    w.zws = workers_map(w.zws_size);
    w.zcap = ZSTD_compressBound(RUN_MAX);
    w.zout = workers_map(w.zcap);
    if (w.zws && w.zout) w.cctx = ZSTD_initStaticCCtx(w.zws, w.zws_size);
  } else if (stasis_cfg.compress == RECF_LZ4) {
    w.zcap = (size_t)LZ4_compressBound(RUN_MAX);
    w.zout = workers_map(w.zcap);
    if (w.zout) w.lz4_state = workers_map((size_t)LZ4_sizeofState());
  }
  pagemap_fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
  /* Not libstasis's open(): a forked writer is not the checkpoint thread,
   * so the scratch-file plugin would note an image in a scratch directory
   * (--local-dir in /dev/shm) as a file the program made, in the very
   * memory being written (a table mapped after the cut: the restored
   * process faulted on it). */
  w.fd = (int)syscall(SYS_openat, AT_FDCWD, path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (w.fd < 0 || !w.buf || !w.snapshot) { stasis_fail("cannot create %s: %s", path, strerror(errno)); goto out; }
  if (stasis_cfg.compress == 0) w.direct_fd = (int)syscall(SYS_openat, AT_FDCWD, path, O_WRONLY | O_DIRECT | O_CLOEXEC);
  w.aligned_runs = stasis_cfg.incremental;
  for (int i = 0; i < m.count; i++) filemap_choose(&m.regions[i], pagemap_fd >= 0);
  if (incr_begin(path)) {
    double t_plan = now();
    plan(&m);
    w.plan = incr_planned(&w.nplan);
    stasis_debug("image %s: planned (scanned and hashed) in %.3f s", path, now() - t_plan);
  }
  choose_code_raw(&w, &m);
  if (!stasis_cfg.incremental && plan_windows(&w, &m) == 0 && w.nwindows)
    w.pack = pack_begin(w.windows, w.nwindows, stasis_cfg.compress, stasis_cfg.level);
  if (write_header(&w, &m) < 0 || write_meta(&w, &m) < 0) goto io;
  for (int i = 0; i < m.count; i++) {
    if (write_region(&w, &m.regions[i]) < 0) goto io;
    if (i == m.count / 2) stasis_fault_point("save-slow");
  }
  struct end_rec end = { w.records, w.memory_bytes };
  if (simple_record(&w, REC_END, &end, sizeof end) < 0 || flush(&w) < 0) goto io;
  double t_sync = now();
  if (fdatasync(w.fd) < 0) goto io;
  if (w.pack) pack_end(w.pack, &w.t_compress, &w.t_crc, &w.pack_threads);
  w.pack = NULL;
  stasis_debug("image %s: compress %.3f s, crc %.3f s (CPU time of %d worker(s) beside the writer), write %.3f s, fsync %.3f s; %.3f s in all",
               path, w.t_compress, w.t_crc, w.pack_threads, w.t_write, now() - t_sync, now() - t_start);
  st->bytes = w.off;
  st->memory_bytes = w.memory_bytes;
  st->checksum = w.sum;
  if (incr_finish(path, st) < 0) goto out;
  rc = 0;
  goto out;
io:
  stasis_fail("writing %s: %s", path, strerror(errno));
out:
  if (w.fd > 0) close(w.fd);
  if (rc < 0 && w.fd > 0) unlink(path);
  if (rc < 0 && stasis_cfg.incremental) {
    char index[4200];
    snprintf(index, sizeof index, "%s.index", path);
    unlink(index);
  }
  incr_end();
  writer_close(&w);
  memory_free_map(&m);
  return rc;
}
