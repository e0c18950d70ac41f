/* stasis-restart: the static restart loader. Verifies an image, clears the
 * address space of everything that is not the loader, moves the kernel's
 * vdso/vvar to where the image expects them, maps every region back, fills
 * it (checksums and decompression run on every CPU, see parallel.c) and
 * enters the restored core (restart_entry) on the main thread's TLS.
 * STASIS_DEBUG=1 prints where the time went (and the pager what it served;
 * with STASIS_PAGER_TRACE=1 too, each fault); STASIS_PROGRESS=1 (from
 * `stasis restart` on a terminal) draws the bytes filled on stderr's line.
 * It is linked at 0x10000, below where non-PIE programs start (0x400000),
 * and runs without address randomization so its brk heap stays right
 * behind it; large allocations stay on that heap too. */
#include "image.h"
#include "parallel.h"
#include "lazy.h"
#include "../plugins/shm/loader.h"
#include "../core/path_map.h"
#include "../core/ctx.h"
#include "crc32c.h"
#include <asm/prctl.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/prctl.h>
#include <malloc.h>
#include <sys/personality.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/prctl.h>
#include <sys/rseq.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#define ZSTD_STATIC_LINKING_ONLY
#include <zstd.h>
#include <lz4.h>

#define LOADER_ZONE_START 0x10000ull
#define LOADER_ZONE_LIMIT 0x400000ull
#define SCRATCH_HINT      0x230000000000ull
static uint64_t loader_zone_end;
int zombies_check(int count, const char *const *images);
int zombies_make(const char *image, char *out, size_t cap);
/* Copied while the environment (on the stack the loader drops) exists. */
static char coord[256], token[128], image_path[4096], debug;
char restart_inherited[RESTART_INHERITED_MAX];   /* descriptors handed to the restored process (plugins/pipe, plugins/pty loader.c) */
char restart_path_map[4096];
static char restart_children[8192];   /* plugins/proctree/loader_zombies.c */

struct mapping { uint64_t start, end; char name[64]; };
static struct mapping own[256];
static int nown;
static struct image img;
static ZSTD_DCtx *dctx[PARALLEL_MAX];
ZSTD_DCtx *loader_dctx(int thread) { return dctx[thread]; }
/* Lazy restart (lazy.c): the userfaultfd the pager serves, -1 when eager. */
static int lazy_fd = -1;
static pid_t pager_pid;
/* An image on a network filesystem is never mapped: deleted on another
 * host, its pages would be lost to the process (ESTALE). */
static int image_remote;
static char loader_stack[256 * 1024] __attribute__((aligned(16)));
static double t_start, t_verified; /* for STASIS_DEBUG */
static int huge_pages;

/* A raw syscall: once move_vdso ran, libc's vdso pointer is stale. */
static double now(void) {
  struct timespec ts;
  syscall(SYS_clock_gettime, CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void read_own_maps(void) {
  FILE *f = fopen("/proc/self/maps", "r");
  char line[512];
  while (f && fgets(line, sizeof line, f) && nown < 256) {
    struct mapping *m = &own[nown];
    int pos = 0;
    m->name[0] = 0;
    if (sscanf(line, "%lx-%lx %*s %*s %*s %*s %n", &m->start, &m->end, &pos) < 2) continue;
    if (pos) sscanf(line + pos, "%63s", m->name);
    nown++;
  }
  if (f) fclose(f);
}

static struct mapping *own_named(const char *name) {
  for (int i = 0; i < nown; i++) if (strcmp(own[i].name, name) == 0) return &own[i];
  return NULL;
}

static int movable(const struct mapping *m) {
  return strcmp(m->name, "[stack]") == 0 || strcmp(m->name, "[vvar]") == 0 ||
         strcmp(m->name, "[vvar_vclock]") == 0 || strcmp(m->name, "[vdso]") == 0 ||
         strcmp(m->name, "[vsyscall]") == 0;
}

/* Everything checkable is checked before the point of no return. */
static int check_layout(void) {
  for (int i = 0; i < img.nregions; i++) {
    const struct region_rec *r = img.regions[i].rec;
    if (r->end > LOADER_ZONE_START && r->start < loader_zone_end) {
      fprintf(stderr, "stasis-restart: %s: region %#lx-%#lx lies where the loader lives\n", img.name,
              (unsigned long)r->start, (unsigned long)r->end);
      return -1;
    }
    for (int k = 0; k < nown; k++)
      if (!movable(&own[k]) && r->end > own[k].start && r->start < own[k].end) {
        fprintf(stderr, "stasis-restart: %s: region %#lx-%#lx overlaps the loader's %#lx\n", img.name,
                (unsigned long)r->start, (unsigned long)r->end, (unsigned long)own[k].start);
        return -1;
      }
  }
  const struct image_header *h = img.header;
  const char *names[3] = { "[vvar]", "[vvar_vclock]", "[vdso]" };
  const uint64_t want[3][2] = { { h->vvar_start, h->vvar_end }, { h->vclock_start, h->vclock_end }, { h->vdso_start, h->vdso_end } };
  for (int i = 0; i < 3; i++) {
    struct mapping *m = own_named(names[i]);
    uint64_t have = m ? m->end - m->start : 0, need = want[i][1] - want[i][0];
    if (have != need) {
      fprintf(stderr, "stasis-restart: %s: this kernel's %s is %lu bytes, the image's %lu: restart on a machine with the same kernel\n",
              img.name, names[i], (unsigned long)have, (unsigned long)need);
      return -1;
    }
  }
  return 0;
}

static void die(const char *what) {
  fprintf(stderr, "stasis-restart: %s: %s: %s\n", img.name, what, strerror(errno));
  _exit(71);
}

/* vvar, vvar_vclock and vdso move together via a scratch area, because a
 * target may overlap where another of them sits now. */
static void move_vdso(void) {
  const struct image_header *h = img.header;
  const char *names[3] = { "[vvar]", "[vvar_vclock]", "[vdso]" };
  const uint64_t want[3] = { h->vvar_start, h->vclock_start, h->vdso_start };
  uint64_t scratch[3];
  uint64_t at = SCRATCH_HINT;
  for (int i = 0; i < 3; i++) {
    struct mapping *m = own_named(names[i]);
    if (!m) continue;
    uint64_t len = m->end - m->start;
    if (mremap((void *)m->start, len, len, MREMAP_MAYMOVE | MREMAP_FIXED, (void *)at) == MAP_FAILED) die("moving vdso");
    scratch[i] = at;
    at += len + 0x100000;
  }
  for (int i = 0; i < 3; i++) {
    struct mapping *m = own_named(names[i]);
    if (!m) continue;
    uint64_t len = m->end - m->start;
    if (mremap((void *)scratch[i], len, len, MREMAP_MAYMOVE | MREMAP_FIXED, (void *)want[i]) == MAP_FAILED) die("placing vdso");
  }
}

/* Pages that need the CPU (decompressing, or copying where a file mapping
 * will not do) are filled on every thread once all regions are mapped. */
static const struct pages **fills;
static int nfills;

/* Progress of the fill on a terminal: one line redrawn at most 10 times a
 * second by thread 0, cleared before the restored program runs. */
static int progress;
static char progress_gen[64];
static uint64_t fill_total;
static atomic_uint_fast64_t filled;
static double progress_last;

static void human(char *out, size_t cap, uint64_t bytes) {
  static const char *const units[] = { "B", "KiB", "MiB", "GiB", "TiB" };
  double v = (double)bytes;
  int u = 0;
  while (v >= 1024 && u < 4) { v /= 1024; u++; }
  if (u == 0) snprintf(out, cap, "%llu B", (unsigned long long)bytes);
  else snprintf(out, cap, "%.1f %s", v, units[u]);
}

static void draw_progress(int force) {
  double t = now();
  if (!force && t - progress_last < 0.1) return;
  progress_last = t;
  char done[32], total[32], line[160];
  human(done, sizeof done, atomic_load(&filled));
  human(total, sizeof total, fill_total);
  int n = snprintf(line, sizeof line, "\rstasis: loading %s: %s of %s\x1b[K", progress_gen, done, total);
  if (n > 0 && write(2, line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1) < 0) progress = 0;
}

static int can_map(const struct loaded_region *r) { return !(r->rec->flags & (RGN_SHARED | RGN_STACK)) && !image_remote; }

/* Lazy: private memory the program may write (so the pager's copies into
 * it never meet a protection), in runs of 1 MiB or more (records next to
 * each other: a compressed run is written in pieces); stacks, shared
 * memory and short runs (libraries' data, the core's own, sparse heaps: what
 * the restored process touches first, one round trip to the pager per page
 * otherwise, and little to fill) are filled now. */
#define LAZY_RUN_MIN (1u << 20)
static int lazy_kind(const struct loaded_region *r, const struct pages *p) {
  return lazy_fd >= 0 && !(r->rec->flags & (RGN_SHARED | RGN_STACK | RGN_MAPFILE)) && r->rec->prot == (PROT_READ | PROT_WRITE) &&
         (r->rec->flags & RGN_CONTENTS) && !(r->rec->flags & RGN_OBJECT) && (!can_map(r) || (p->rec->flags & RECF_COMP_MASK));
}

/* Records i.. of the region that go lazy together: of the kind, each right
 * after the one before it in memory. */
/* Record j's pages start where record j - 1's end. */
static int follows(const struct loaded_region *r, int j) {
  return r->pages[j].addr == r->pages[j - 1].addr + r->pages[j - 1].rec->raw_len;
}
static int lazy_group(const struct loaded_region *r, int i) {
  int j = i;
  while (j < r->npages && lazy_kind(r, &r->pages[j]) && (j == i || follows(r, j))) j++;
  return j;
}

static void mark_lazy(struct loaded_region *r) {
  for (int i = 0; i < r->npages;) {
    int j = lazy_group(r, i);
    if (j == i) { r->pages[i++].deferred = 0; continue; }
    uint64_t len = r->pages[j - 1].addr + r->pages[j - 1].rec->raw_len - r->pages[i].addr;
    for (; i < j; i++) r->pages[i].deferred = len >= LAZY_RUN_MIN;
  }
}

static void queue_pages(const struct loaded_region *r) {
  for (int i = 0, registered = 0; i < r->npages; i++) {
    const struct pages *p = &r->pages[i];
    /* A group of deferred records is one userfaultfd range, registered once. */
    if (p->deferred && i >= registered) {
      int j = i + 1;
      while (j < r->npages && r->pages[j].deferred && follows(r, j)) j++;   /* the group mark_lazy found */
      if (lazy_register(lazy_fd, p->addr, r->pages[j - 1].addr + r->pages[j - 1].rec->raw_len - p->addr) == 0) registered = j;
    }
    if (p->deferred && i < registered) { lazy_add(p); continue; }
    if (p->deferred) {   /* cannot be registered after all: filled here, checked first */
      ((struct pages *)p)->deferred = 0;
      if (crc32c(0, p->payload, p->rec->stored_len) != p->rec->payload_crc) {
        fprintf(stderr, "stasis-restart: %s: corrupt: record %d: payload checksum mismatch\n", img.name, p->record);
        _exit(71);
      }
    }
    if (can_map(r) && !(p->rec->flags & RECF_COMP_MASK)) {
      if (mmap((void *)p->addr, p->rec->raw_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_FIXED, p->fd,
               p->file_offset) == MAP_FAILED)
        die("mapping pages");
    } else {
      fills[nfills++] = p;
      fill_total += p->rec->raw_len;
    }
  }
}

static void fill(int i, int thread, void *unused) {
  (void)unused;
  const struct pages *p = fills[i];
  void *addr = (void *)p->addr;
  int ok = 1;
  switch (p->rec->flags & RECF_COMP_MASK) {
  case 0:
    memcpy(addr, p->payload, p->rec->raw_len);
    break;
  case RECF_LZ4:
    ok = LZ4_decompress_safe(p->payload, addr, (int)p->rec->stored_len, (int)p->rec->raw_len) == (int)p->rec->raw_len;
    break;
  default: {
    size_t n = ZSTD_decompressDCtx(dctx[thread], addr, p->rec->raw_len, p->payload, p->rec->stored_len);
    ok = !ZSTD_isError(n) && n == p->rec->raw_len;
  }
  }
  if (!ok) {
    fprintf(stderr, "stasis-restart: %s: cannot decompress pages at %p\n", img.name, addr);
    _exit(71);
  }
  if (progress) {
    atomic_fetch_add(&filled, p->rec->raw_len);
    if (thread == 0) draw_progress(0);
  }
}

static void map_region(const struct loaded_region *r) {
  const struct region_rec *rr = r->rec;
  void *start = (void *)rr->start;
  size_t len = rr->end - rr->start;
  char saved[4096], path[4096];
  snprintf(saved, sizeof saved, "%.*s", (int)rr->path_len, r->path);
  path_map_apply(restart_path_map, saved, path, sizeof path);
  if (rr->flags & RGN_OBJECT) { shm_map_region(img.name, rr->start, rr->end, rr->prot); return; }
  if ((rr->flags & RGN_SHARED) && (rr->flags & RGN_FILE) && !(rr->flags & RGN_CONTENTS)) {
    int fd = open(path, (rr->prot & PROT_WRITE) ? O_RDWR : O_RDONLY);
    if (fd < 0 || mmap(start, len, rr->prot, MAP_SHARED | MAP_FIXED, fd, rr->file_offset) == MAP_FAILED) {
      fprintf(stderr, "stasis-restart: %s: cannot map %s: %s\n", img.name, path, strerror(errno));
      _exit(71);
    }
    close(fd);
    return;
  }
  if (r->ident) {   /* the file again, checked (mapfile.c); the pages the process changed go over it */
    if (mmap(start, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_FIXED, r->file_fd, rr->file_offset) == MAP_FAILED)
      die("mapping a file again");
    close(r->file_fd);
    queue_pages(r);
    return;
  }
  int flags = ((rr->flags & RGN_SHARED) ? MAP_SHARED : MAP_PRIVATE) | MAP_ANONYMOUS | MAP_FIXED;
  if (rr->flags & RGN_STACK) flags |= MAP_GROWSDOWN;
  if (!(rr->flags & RGN_CONTENTS)) {
    if (mmap(start, len, rr->prot, flags | MAP_NORESERVE, -1, 0) == MAP_FAILED) die("reserving memory");
    return;
  }
  if (mmap(start, len, PROT_READ | PROT_WRITE, flags, -1, 0) == MAP_FAILED) die("mapping memory");
  /* Huge pages cut the faults of a fill 512-fold, but where the host backs
   * them badly (these VMs: 2 MiB faults 1.5-8x slower than 512 of 4 KiB,
   * eager fills of 1 GiB 1.5-4x slower with them, 2026-12-03) they cost
   * more than they save: only with STASIS_LOADER_THP=1. */
  if (huge_pages && len >= (8u << 20) && !(rr->flags & (RGN_SHARED | RGN_STACK))) madvise(start, len, MADV_HUGEPAGE);
  queue_pages(r);
}

/* Once filled, regions with contents get their saved protection. */
static void protect_region(const struct loaded_region *r) {
  const struct region_rec *rr = r->rec;
  if (!(rr->flags & RGN_CONTENTS) || rr->prot == (PROT_READ | PROT_WRITE)) return;
  if (mprotect((void *)rr->start, rr->end - rr->start, rr->prot) < 0) die("protecting memory");
}

static void set_mm_layout(void) {
  const struct image_header *h = img.header;
  struct prctl_mm_map mm = {
    .start_code = h->start_code, .end_code = h->end_code, .start_data = h->start_data,
    .end_data = h->end_data, .start_brk = h->start_brk, .brk = h->brk,
    .start_stack = h->start_stack, .arg_start = h->arg_start, .arg_end = h->arg_end,
    .env_start = h->env_start, .env_end = h->env_end, .auxv = NULL, .auxv_size = 0, .exe_fd = (uint32_t)-1,
  };
  if (prctl(PR_SET_MM, PR_SET_MM_MAP, &mm, sizeof mm, 0) < 0 && debug)
    fprintf(stderr, "stasis-restart: PR_SET_MM_MAP: %s (brk growth falls back to mmap)\n", strerror(errno));
}

/* STASIS_RESTORE_ALONE: stasis restart of a one-process generation (read
 * in main: the environment is on the stack restore() drops). */
static int restore_alone;

static void fill_restart_info(void) {
  struct restart_info *ri = (void *)img.header->restart_info;
  memset(ri, 0, sizeof *ri);
  ri->magic = restore_alone ? RESTART_INFO_MAGIC_ALONE : RESTART_INFO_MAGIC;
  ri->loader_start = LOADER_ZONE_START;
  ri->loader_end = loader_zone_end;
  ri->new_pid = getpid();
  memcpy(ri->coord, coord, sizeof ri->coord);
  memcpy(ri->token, token, sizeof ri->token);
  memcpy(ri->image, image_path, sizeof ri->image);
  memcpy(ri->inherited, restart_inherited, sizeof ri->inherited);
  memcpy(ri->path_map, restart_path_map, sizeof ri->path_map);
  memcpy(ri->children, restart_children, sizeof ri->children);
  ri->pager_pid = (uint64_t)pager_pid;
}

static void unregister_rseq(void) {
  if (__rseq_size == 0) return;
  unsigned len = __rseq_size < 32 ? 32 : __rseq_size;
  unsigned long fs;
  syscall(SYS_arch_prctl, ARCH_GET_FS, &fs);
  syscall(SYS_rseq, (char *)fs + __rseq_offset, len, RSEQ_FLAG_UNREGISTER, RSEQ_SIG);
}

/* Runs on loader_stack: from here on nothing of the old stack is used. */
static void restore(void *unused) {
  (void)unused;
  unregister_rseq();
  struct mapping *stack = own_named("[stack]");
  if (stack) munmap((void *)stack->start, stack->end - stack->start);
  move_vdso();
  for (int i = 0; i < img.nregions; i++) map_region(&img.regions[i]);
  double mapped = now();
  if (progress) draw_progress(1);
  parallel_run(nfills, fill, NULL);
  double filled = now();
  if (lazy_count() > 0) {
    pager_pid = lazy_start(lazy_fd, &img, getpid());
    if (pager_pid < 0) {   /* filled here after all */
      pager_pid = 0;
      nfills = 0;
      for (int i = 0; i < lazy_count(); i++) fills[nfills++] = lazy_abandon(lazy_fd, i);
      parallel_run(nfills, fill, NULL);
    }
  }
  if (lazy_fd >= 0) close(lazy_fd);
  if (progress) {
    draw_progress(1);
    if (write(2, "\r\x1b[K", 4) < 0) progress = 0;
  }
  for (int i = 0; i < img.nregions; i++) protect_region(&img.regions[i]);
  if (debug)
    fprintf(stderr, "stasis-restart: %s: verify %.3f s, map %.3f s, fill %.1f MiB %.3f s on %d threads, %d records lazy (pager %d), the pager started in %.3f s\n",
            img.name, t_verified - t_start, mapped - t_verified, fill_total / 1048576.0, filled - mapped, parallel_threads(),
            pager_pid ? lazy_count() : 0, (int)pager_pid, now() - filled);
  set_mm_layout();
  fill_restart_info();
  static struct image_header header;
  header = *img.header;
  const struct image_header *h = &header;
  image_close(&img);
  personality(personality(0xffffffff) & ~ADDR_NO_RANDOMIZE);
  /* No libc beyond this point: TLS becomes the restored main thread's. */
  syscall(SYS_arch_prctl, ARCH_SET_FS, h->main_fs);
  ctx_call_on_stack((void *)h->restart_stack, (void (*)(void *))h->restart_entry, (void *)h->restart_info);
}

/* Lazy unless STASIS_EAGER=1 (`stasis restart --eager`) or userfaultfd
 * cannot serve every fault here (one line says so). */
static void choose_lazy(void) {
  const char *eager = getenv("STASIS_EAGER");
  struct statfs fs;
  if (fstatfs(img.fd, &fs) == 0) {
    /* NFS, SMB/CIFS, FUSE, Lustre, GPFS, BeeGFS, Ceph, 9p, AFS */
    static const unsigned long remote[] = { 0x6969, 0xFE534D42, 0xFF534D42, 0x517B, 0x65735546, 0x0BD00BD0,
                                            0x47504653, 0x19830326, 0x00C36400, 0x01021997, 0x5346414F, 0x6B414653 };
    for (unsigned i = 0; i < sizeof remote / sizeof *remote; i++)
      if ((unsigned long)fs.f_type == remote[i]) image_remote = 1;
  }
  if (eager && *eager && strcmp(eager, "0") != 0) return;
  const char *delay = getenv("STASIS_PAGER_DELAY_MS");
  if (delay) lazy_delay_background((unsigned)strtoul(delay, NULL, 10));
  lazy_set_debug(debug ? (getenv("STASIS_PAGER_TRACE") ? 2 : 1) : 0);
  const char *why = NULL;
  lazy_fd = lazy_open(&why);
  if (lazy_fd < 0) fprintf(stderr, "stasis-restart: %s: restoring eagerly: %s\n", img.name, why);
}

/* `stasis restart` verified every byte of the image (stasis-restart
 * --verify) just before it ran this loader, and names each file it verified
 * in STASIS_VERIFIED by identity: device, inode, size, modification and
 * change times, one a line; a file written since has another. Chunks mapped
 * from such a file are not read again here: the program reads them from the
 * file when it touches them, after this check as after the CLI's, so a
 * second pass would only double the restart's reads. What the loader copies
 * is checked as it always was; a file not named, or changed, is read whole. */
static int cli_verified(int fd) {
  const char *list = getenv("STASIS_VERIFIED");
  struct stat st;
  if (!list || fstat(fd, &st) < 0) return 0;
  char id[160];
  int n = snprintf(id, sizeof id, "%llu:%llu:%lld:%lld%09ld:%lld%09ld", (unsigned long long)st.st_dev, (unsigned long long)st.st_ino,
                   (long long)st.st_size, (long long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec, (long long)st.st_ctim.tv_sec, st.st_ctim.tv_nsec);
  for (const char *at = list; (at = strstr(at, id)); at += n)
    if ((at == list || at[-1] == '\n') && (at[n] == '\n' || at[n] == 0)) return 1;
  return 0;
}

static void trust_cli_verification(void) {
  int ok[REF_FILES_MAX + 1];
  ok[0] = cli_verified(img.fd);
  for (int i = 0; i < img.nrefs; i++) ok[i + 1] = cli_verified(img.refs[i].fd);
  uint64_t trusted = 0;
  for (int i = 0; i < img.nregions; i++)
    for (int k = 0; k < img.regions[i].npages; k++) {
      struct pages *p = &img.regions[i].pages[k];
      if (p->deferred || !can_map(&img.regions[i]) || (p->rec->flags & RECF_COMP_MASK)) continue;
      int f = p->fd == img.fd ? 0 : -1;
      for (int r = 0; f < 0 && r < img.nrefs; r++) if (img.refs[r].fd == p->fd) f = r + 1;
      if (f >= 0 && ok[f]) p->trusted = 1, trusted += p->rec->raw_len;
    }
  if (debug && trusted) fprintf(stderr, "stasis-restart: %s: %.1f MiB mapped from files stasis restart verified: not read again\n", img.name, trusted / 1048576.0);
}

/* Without randomization the brk heap directly follows the loader. */
static void reexec_without_aslr(char **argv) {
  int p = personality(0xffffffff);
  if (p == -1 || (p & ADDR_NO_RANDOMIZE)) return;
  if (personality(p | ADDR_NO_RANDOMIZE) == -1) return;
  execv("/proc/self/exe", argv);
  personality(p);
}

int main(int argc, char **argv) {
  if (!(argc == 3 && strcmp(argv[1], "--verify") == 0)) reexec_without_aslr(argv);   /* a check maps nothing of the program */
  extern void inherited_snapshot(void);
  extern int inherited_prepare(int count, const char *const *images, char *out, size_t cap);
  inherited_snapshot();   /* before the loader opens anything of its own */
  t_start = now();
  debug = getenv("STASIS_DEBUG") != NULL;
  const char *thp = getenv("STASIS_LOADER_THP");
  huge_pages = thp && strcmp(thp, "1") == 0;
  mallopt(M_MMAP_MAX, 0);
  mallopt(M_ARENA_MAX, 1); /* helper threads too allocate on that heap */
  const char *map = getenv("STASIS_PATH_MAP");
  char bad[256];
  if (map && snprintf(restart_path_map, sizeof restart_path_map, "%s", map) >= (int)sizeof restart_path_map) {
    fprintf(stderr, "stasis-restart: STASIS_PATH_MAP: longer than %zu bytes\n", sizeof restart_path_map - 1);
    return 2;
  }
  if (path_map_check(restart_path_map, bad, sizeof bad) < 0) {
    fprintf(stderr, "stasis-restart: STASIS_PATH_MAP: bad entry '%s' (want OLD=NEW, both absolute paths)\n", bad);
    return 2;
  }
  /* The root leaves the restarter's session for one of its own, as it had
   * (a daemon whose session leader is gone). */
  int new_session = argc > 1 && strcmp(argv[1], "--new-session") == 0;
  if (new_session) { argv++; argc--; }
  if (argc > 2 && strcmp(argv[1], "--tree") == 0) {
    extern const char *tree_restore(int count, char **specs, int new_session);
    argv[1] = (char *)tree_restore(argc - 2, argv + 2, new_session);
    argc = 2;
  } else if (argc == 2 && argv[1][0] != '-') {
    if (new_session) setsid();
    extern int pipes_prepare(int count, const char *const *images, char *out, size_t cap);
    extern int ptys_prepare(int count, const char *const *images, char *out, size_t cap);
    extern int unix_sockets_prepare(int count, const char *const *images, char *out, size_t cap);
    extern int tcp_sockets_prepare(int count, const char *const *images, char *out, size_t cap);
    extern int udp_sockets_prepare(int count, const char *const *images, char *out, size_t cap);
    const char *one[1] = { argv[1] };
    if (pipes_prepare(1, one, restart_inherited, sizeof restart_inherited) < 0 ||
        ptys_prepare(1, one, restart_inherited, sizeof restart_inherited) < 0 ||
        inherited_prepare(1, one, restart_inherited, sizeof restart_inherited) < 0 ||
        unix_sockets_prepare(1, one, restart_inherited, sizeof restart_inherited) < 0 ||
        tcp_sockets_prepare(1, one, restart_inherited, sizeof restart_inherited) < 0 ||
        udp_sockets_prepare(1, one, restart_inherited, sizeof restart_inherited) < 0 || shm_prepare(1, one) < 0 ||
        zombies_check(1, one) < 0)
      return 3;
  }
  /* The process this loader becomes gets back its children not waited for. */
  if (argc == 2 && argv[1][0] != '-' && zombies_make(argv[1], restart_children, sizeof restart_children) < 0) return 3;
  int verify_only = argc == 3 && strcmp(argv[1], "--verify") == 0;
  if (argc != 2 + verify_only || argv[1 + verify_only][0] == '-') {
    fprintf(stderr, "usage: stasis-restart [--verify] IMAGE | [--new-session] --tree VPID:PPID:PGID:SID:IMAGE...\n");
    return 2;
  }
  if (verify_only) {
    if (image_open_verified(&img, argv[2]) < 0) return 3;
    printf("%s: ok\n", img.name);
    return 0;
  }
  if (image_open_unchecked(&img, argv[1]) < 0) return 3;
  choose_lazy();
  /* What goes lazy is checked by the pager as it fills it (lazy.c). */
  for (int i = 0; i < img.nregions; i++) mark_lazy(&img.regions[i]);
  trust_cli_verification();
  if (image_check_payloads(&img) < 0) return 3;
  t_verified = now();
  restore_alone = getenv("STASIS_RESTORE_ALONE") != NULL;
  const char *c = getenv("STASIS_COORD"), *t = getenv("STASIS_TOKEN");
  snprintf(coord, sizeof coord, "%s", c ? c : "");
  snprintf(token, sizeof token, "%s", t ? t : "");
  if (!realpath(img.name, image_path)) snprintf(image_path, sizeof image_path, "%s", img.name);
  img.name = image_path; /* argv lives on the stack restore() drops */
  if (getenv("STASIS_PROGRESS") && isatty(2)) {
    /* The generation's name: the image's directory (D/gen-NNNNNN/name.img). */
    char dir[sizeof image_path], *slash;
    snprintf(dir, sizeof dir, "%s", image_path);
    if ((slash = strrchr(dir, '/'))) *slash = 0;
    slash = strrchr(dir, '/');
    snprintf(progress_gen, sizeof progress_gen, "%.63s", slash ? slash + 1 : dir);
    progress = 1;
  }
  for (int i = 0; i < parallel_threads(); i++) dctx[i] = ZSTD_createDCtx();
  fills = calloc(img.npages + 1, sizeof *fills);
  loader_zone_end = ((uint64_t)sbrk(0) + 0x200000) & ~0xfffull;
  if (loader_zone_end > LOADER_ZONE_LIMIT) loader_zone_end = LOADER_ZONE_LIMIT;
  read_own_maps();
  if (check_layout() < 0) return 4;
  /* STASIS_ROOT: the program ran in a chroot; it is restored in it (it
   * reopens its files, and later finds its libraries, by path there). */
  const char *root = getenv("STASIS_ROOT");
  if (root && *root && (chroot(root) < 0 || chdir("/") < 0)) {
    fprintf(stderr, "stasis-restart: %s: cannot change root to %s: %s\n", img.name, root, strerror(errno));
    return 5;
  }
  if (mapfile_check(&img) < 0) return 3;
  sigset_t all;
  sigfillset(&all);
  sigprocmask(SIG_BLOCK, &all, NULL);
  ctx_call_on_stack(loader_stack + sizeof loader_stack, restore, NULL);
}
