/* Which memory the program wrote since the last checkpoint, without
 * reading it (incremental images, docs/incremental.md): these kernels have
 * no soft-dirty bits, but userfaultfd's asynchronous write-protect mode
 * (Linux 6.7+) clears a page's protection in the kernel on its first
 * write, and PAGEMAP_SCAN reports (and protects again) the pages written.
 * At each cut, with the program stopped, every private anonymous region
 * is asked; one not registered yet (new, or moved by mremap, which drops
 * the registration) is registered and protected, and counts as unknown
 * (hashed). PM_SCAN_CHECK_WPASYNC refuses a range that is not wholly
 * registered with us, so a mapping made anew at an old address is never
 * mistaken for an unwritten one. Any failure: unknown, never unwritten. */
#include "core.h"
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <linux/userfaultfd.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

/* Kernel uapi values; Debian 12's headers (6.1) lack them. */
#ifndef UFFD_FEATURE_WP_UNPOPULATED
#define UFFD_FEATURE_WP_UNPOPULATED (1 << 13)
#endif
#ifndef UFFD_FEATURE_WP_ASYNC
#define UFFD_FEATURE_WP_ASYNC (1 << 15)
#endif
struct scan_region { uint64_t start, end, categories; };
struct scan_arg {
  uint64_t size, flags, start, end, walk_end, vec, vec_len, max_pages;
  uint64_t category_inverted, category_mask, category_anyof_mask, return_mask;
};
#define SCAN_IOCTL _IOWR('f', 16, struct scan_arg)
#define IS_WRITTEN (1 << 1)
#define SCAN_WP_MATCHING (1 << 0)
#define SCAN_CHECK_WPASYNC (1 << 1)

/* Protecting a range builds its page tables (markers for pages not there
 * yet, so that dropping a page reads as a write): a huge sparse
 * reservation (a sanitizer's shadow) is left to hashing. */
#define TRACK_MAX (16ull << 30)

static int uffd = -1;         /* -2: this kernel cannot */
static int protected_at;      /* generation whose cut the protection dates from */
/* At the last cut: the regions asked (known) and the ranges written in
 * them since `known_since`'s cut; in mmap'd arrays (the writer reads them). */
static struct written_range *known, *written;
static size_t nknown, known_cap, nwritten, written_cap;
static int known_since;

static int grow(void **p, size_t *cap, size_t elem, size_t need) {
  if (need <= *cap) return 0;
  size_t n = *cap ? *cap * 2 : 256;
  while (n < need) n *= 2;
  void *q = *p ? mremap(*p, *cap * elem, n * elem, MREMAP_MAYMOVE)
               : mmap(NULL, n * elem, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (q == MAP_FAILED) return -1;
  *p = q;
  *cap = n;
  return 0;
}

static int open_uffd(void) {
  /* User-mode only: all we need, and allowed to any user (vm.unprivileged_userfaultfd=0). */
  int fd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK | UFFD_USER_MODE_ONLY);
  if (fd < 0) fd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) return -2;
  struct uffdio_api api = { .api = UFFD_API, .features = UFFD_FEATURE_WP_ASYNC | UFFD_FEATURE_WP_UNPOPULATED };
  if (ioctl(fd, UFFDIO_API, &api) < 0) { close(fd); return -2; }
  fd = stasis_move_high(fd);
  stasis_keep_fd(fd);
  return fd;
}

/* Written ranges of [start, end), protected again; 0, or -1: unknown. */
static int scan(int pm, uint64_t start, uint64_t end) {
  static struct scan_region vec[256];
  size_t first = nwritten;
  for (uint64_t at = start; at < end;) {
    struct scan_arg a = { .size = sizeof a, .flags = SCAN_WP_MATCHING | SCAN_CHECK_WPASYNC, .start = at, .end = end,
                          .vec = (uint64_t)vec, .vec_len = 256, .category_mask = IS_WRITTEN, .return_mask = IS_WRITTEN };
    long n = ioctl(pm, SCAN_IOCTL, &a);
    if (n < 0 || a.walk_end <= at || grow((void **)&written, &written_cap, sizeof *written, nwritten + (size_t)n) < 0) {
      nwritten = first;
      return -1;
    }
    for (long i = 0; i < n; i++) written[nwritten++] = (struct written_range){ vec[i].start, vec[i].end };
    at = a.walk_end;
  }
  return 0;
}

/* At the last cut: the process's resident bytes, and of the memory the image holds the
 * bytes in memory that tracking cannot vouch for as unwritten since
 * `known_since`'s cut, in the incremental planner's 8 MiB windows (its
 * unit), file-backed and shared memory whole (UINT64_MAX: unknown). */
static uint64_t cut_total, cut_changed = UINT64_MAX;

#define IS_PRESENT (1 << 3)
#define IS_PFNZERO (1 << 5)

/* Bytes of [start, end) in memory (what the planner reads of memory it
 * cannot vouch for), not counting the shared zero page (a page only ever
 * read) nor swap (the markers write protection puts on pages never
 * touched count as swapped); the whole range if the kernel cannot say. */
static uint64_t resident(int pm, uint64_t start, uint64_t end) {
  static struct scan_region vec[256];
  uint64_t bytes = 0;
  for (uint64_t at = start; at < end;) {
    struct scan_arg a = { .size = sizeof a, .start = at, .end = end, .vec = (uint64_t)vec, .vec_len = 256,
                          .category_inverted = IS_PFNZERO, .category_mask = IS_PRESENT | IS_PFNZERO,
                          .return_mask = IS_PRESENT };
    long n = ioctl(pm, SCAN_IOCTL, &a);
    if (n < 0 || a.walk_end <= at) return bytes + (end - at);
    for (long i = 0; i < n; i++) bytes += vec[i].end - vec[i].start;
    at = a.walk_end;
  }
  return bytes;
}

/* Resident bytes of the windows of [start, end) that a written range of
 * written[first..nwritten) touches: those windows are read and hashed again. */
static uint64_t written_windows(int pm, uint64_t start, uint64_t end, size_t first) {
  uint64_t bytes = 0;
  size_t k = first;
  for (uint64_t a = start; a < end;) {
    uint64_t stop = (a / (8u << 20) + 1) * (8u << 20);
    if (stop > end) stop = end;
    while (k < nwritten && written[k].end <= a) k++;
    if (k < nwritten && written[k].start < stop) bytes += resident(pm, a, stop);
    a = stop;
  }
  return bytes;
}

void track_cut(int generation, int estimate) {
  nknown = nwritten = 0;
  known_since = protected_at;
  protected_at = 0;
  cut_changed = UINT64_MAX;
  if (uffd == -1) uffd = open_uffd();
  if (uffd < 0) return;
  struct memory_map m;
  if (memory_read_map(&m) < 0) { stasis_clear_failure(); return; }
  int pm = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
  uint64_t here = (uint64_t)__builtin_frame_address(0), total = 0, changed = 0;
  for (int i = 0; pm >= 0 && i < m.count; i++) {
    const struct region *r = &m.regions[i];
    if (!(r->flags & RGN_CONTENTS)) continue;
    total += r->end - r->start;
    /* Estimated only when asked, against an earlier cut (track_changed). */
    if (r->flags & (RGN_FILE | RGN_SHARED)) { changed += r->end - r->start; continue; }
    if ((here >= r->start && here < r->end) || r->end - r->start > TRACK_MAX) {
      if (estimate && known_since) changed += resident(pm, r->start, r->end);
      continue;
    }
    size_t first = nwritten;
    if (known_since && scan(pm, r->start, r->end) == 0) {
      if (grow((void **)&known, &known_cap, sizeof *known, nknown + 1) == 0) {
        known[nknown++] = (struct written_range){ r->start, r->end };
        if (estimate) changed += written_windows(pm, r->start, r->end, first);
      } else changed += r->end - r->start;
      continue;
    }
    if (estimate && known_since) changed += resident(pm, r->start, r->end);
    /* Not (wholly) ours yet: registered and protected from this cut on. */
    struct uffdio_register reg = { .range = { r->start, r->end - r->start }, .mode = UFFDIO_REGISTER_MODE_WP };
    struct uffdio_writeprotect wp = { .range = { r->start, r->end - r->start }, .mode = UFFDIO_WRITEPROTECT_MODE_WP };
    if (ioctl(uffd, UFFDIO_REGISTER, &reg) == 0 || errno == EBUSY) ioctl(uffd, UFFDIO_WRITEPROTECT, &wp);
  }
  if (pm >= 0) close(pm);
  if (pm >= 0 && estimate) {
    /* What a fork would copy the page tables of: the process's resident set. */
    char statm[128];
    int fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
    ssize_t got = fd >= 0 ? read(fd, statm, sizeof statm - 1) : -1;
    unsigned long long size_pages, rss_pages;
    if (fd >= 0) close(fd);
    if (got > 0) statm[got] = 0;
    if (got > 0 && sscanf(statm, "%llu %llu", &size_pages, &rss_pages) == 2) total = rss_pages * (uint64_t)sysconf(_SC_PAGESIZE);
    cut_total = total;
    cut_changed = changed;
  }
  memory_free_map(&m);
  protected_at = generation;
}

uint64_t track_changed(int since, uint64_t *total) {
  *total = cut_total;
  return since && since == known_since ? cut_changed : UINT64_MAX;
}

int track_unwritten(int since, uint64_t start, uint64_t end) {
  if (!since || since != known_since) return 0;
  /* Known regions and written ranges are in address order. */
  int inside = 0;
  for (size_t i = 0; i < nknown && !inside; i++) inside = known[i].start <= start && end <= known[i].end;
  if (!inside) return 0;
  for (size_t i = 0; i < nwritten; i++)
    if (written[i].start < end && start < written[i].end) return 0;
  return 1;
}

/* A restored process, or a forked child: the protection and the
 * registrations were the old process's. */
void track_forget(void) {
  if (uffd >= 0) close(uffd);
  uffd = -1;
  protected_at = known_since = 0;
  known = written = NULL;
  nknown = known_cap = nwritten = written_cap = 0;
  cut_changed = UINT64_MAX;
}
