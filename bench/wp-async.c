/* Probe for the next step of incremental images (docs/incremental.md):
 * does this kernel track writes without soft-dirty, through userfaultfd's
 * asynchronous write-protect mode and the PAGEMAP_SCAN ioctl (Linux 6.7+),
 * and what does it cost? 1 GiB is write-protected, some of it written,
 * the written ranges are asked for, re-protected, and a range dropped with
 * MADV_DONTNEED must read as written.
 *   gcc -O2 -o /tmp/wp-async bench/wp-async.c && /tmp/wp-async
 * Debian 12's headers (6.1) lack these constants: they are the kernel's
 * uapi values (include/uapi/linux/fs.h, userfaultfd.h). */
#define _GNU_SOURCE
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#ifndef UFFD_FEATURE_WP_UNPOPULATED
#define UFFD_FEATURE_WP_UNPOPULATED (1 << 13)
#endif
#ifndef UFFD_FEATURE_WP_ASYNC
#define UFFD_FEATURE_WP_ASYNC (1 << 15)
#endif
struct page_region { uint64_t start, end, categories; };
struct pm_scan_arg {
  uint64_t size, flags, start, end, walk_end, vec, vec_len, max_pages;
  uint64_t category_inverted, category_mask, category_anyof_mask, return_mask;
};
#define PAGEMAP_SCAN _IOWR('f', 16, struct pm_scan_arg)
#define PAGE_IS_WRITTEN (1 << 1)
#define PM_SCAN_WP_MATCHING (1 << 0)
#define PM_SCAN_CHECK_WPASYNC (1 << 1)

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec / 1e9;
}

static struct page_region v[64];

static long written(int pm, char *b, size_t n, uint64_t flags) {
  struct pm_scan_arg a = { .size = sizeof a, .flags = flags, .start = (uint64_t)b, .end = (uint64_t)b + n,
                           .vec = (uint64_t)v, .vec_len = 64, .category_mask = PAGE_IS_WRITTEN, .return_mask = PAGE_IS_WRITTEN };
  return ioctl(pm, PAGEMAP_SCAN, &a);
}

static void show(long r, char *b) {
  for (long i = 0; i < r && i < 8; i++)
    printf("  written +%lu MiB .. +%lu MiB\n", (unsigned long)((v[i].start - (uint64_t)b) >> 20),
           (unsigned long)((v[i].end - (uint64_t)b) >> 20));
}

int main(void) {
  size_t n = 1ul << 30;
  char *b = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  memset(b, 1, n);
  int u = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
  if (u < 0) { perror("userfaultfd"); return 1; }
  struct uffdio_api api = { .api = UFFD_API, .features = UFFD_FEATURE_WP_ASYNC | UFFD_FEATURE_WP_UNPOPULATED };
  if (ioctl(u, UFFDIO_API, &api) < 0) { perror("UFFDIO_API (WP_ASYNC)"); return 1; }
  struct uffdio_register reg = { .range = { (uint64_t)b, n }, .mode = UFFDIO_REGISTER_MODE_WP };
  if (ioctl(u, UFFDIO_REGISTER, &reg) < 0) { perror("UFFDIO_REGISTER"); return 1; }
  double t0 = now();
  struct uffdio_writeprotect wp = { .range = { (uint64_t)b, n }, .mode = UFFDIO_WRITEPROTECT_MODE_WP };
  if (ioctl(u, UFFDIO_WRITEPROTECT, &wp) < 0) { perror("UFFDIO_WRITEPROTECT"); return 1; }
  double t1 = now();
  memset(b + (500 << 20), 9, 3 << 20);
  memset(b, 2, n / 4);   /* first writes after protection: one kernel fault per page */
  double t2 = now();
  int pm = open("/proc/self/pagemap", O_RDONLY);
  long r = written(pm, b, n, 0);
  double t3 = now();
  if (r < 0) { perror("PAGEMAP_SCAN"); return 1; }
  printf("protect 1 GiB %.4f s; write 259 MiB after it %.4f s; scan %.4f s: %ld ranges\n", t1 - t0, t2 - t1, t3 - t2, r);
  show(r, b);
  t0 = now();
  written(pm, b, n, PM_SCAN_WP_MATCHING | PM_SCAN_CHECK_WPASYNC);   /* protect again what was written */
  printf("scan and protect again %.4f s; then %ld ranges written\n", now() - t0, written(pm, b, n, 0));
  madvise(b + (200 << 20), 1 << 20, MADV_DONTNEED);
  r = written(pm, b, n, 0);
  printf("after MADV_DONTNEED of 1 MiB at +200 MiB: %ld range(s)\n", r);
  show(r, b);
  return 0;
}
