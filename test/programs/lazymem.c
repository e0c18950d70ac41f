/* lazymem MIB TRIGGER: fills MIB MiB with a pattern every page of which can
 * be checked alone, prints "ready SUM", then "tick N" every 20 ms touching
 * one page only (what a lazily restored program needs back first). When the
 * file TRIGGER appears it does what it says and removes it:
 *   verify   checks all memory: "verified SUM"
 *   fork     a child checks all memory: "child verified SUM"
 *   discard  madvise(DONTNEED) on 16 pages must leave zeros: "discarded zero"
 *   move     mremap of 64 pages must carry their contents: "moved ok"
 * A wrong page prints "BROKEN ...". */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define PAGE 4096
#define WORDS (PAGE / 8)
static uint64_t *buf;
static size_t pages;

static uint64_t expected(size_t page, size_t word) { return 0x5151000000000000ull + page * WORDS + word; }

static int page_ok(const uint64_t *p, size_t page) {
  for (size_t w = 0; w < WORDS; w++) if (p[w] != expected(page, w)) return 0;
  return 1;
}

static void fill_page(uint64_t *p, size_t page) { for (size_t w = 0; w < WORDS; w++) p[w] = expected(page, w); }

static uint64_t check_all(void) {
  uint64_t h = 1469598103934665603ull;
  for (size_t i = 0; i < pages; i++) {
    if (!page_ok(buf + i * WORDS, i)) { printf("BROKEN page %zu of %zu\n", i, pages); return 0; }
    h = (h ^ buf[i * WORDS]) * 1099511628211ull;
  }
  return h;
}

int main(int argc, char **argv) {
  if (argc != 3) { fprintf(stderr, "usage: lazymem MIB TRIGGER\n"); return 2; }
  setvbuf(stdout, NULL, _IOLBF, 0);
  pages = strtoul(argv[1], NULL, 10) * 256;
  buf = mmap(NULL, pages * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (buf == MAP_FAILED) { perror("mmap"); return 1; }
  for (size_t i = 0; i < pages; i++) fill_page(buf + i * WORDS, i);
  printf("ready %016llx\n", (unsigned long long)check_all());
  for (unsigned long tick = 1;; tick++) {
    struct timespec ts = { 0, 20000000 };
    nanosleep(&ts, NULL);
    size_t probe = (tick * 7919) % 64;   /* a few pages only */
    if (!page_ok(buf + probe * WORDS, probe)) printf("BROKEN tick page %zu\n", probe);
    printf("tick %lu\n", tick);
    FILE *f = fopen(argv[2], "r");
    if (!f) continue;
    char cmd[32] = "";
    if (!fgets(cmd, sizeof cmd, f)) cmd[0] = 0;
    fclose(f);
    unlink(argv[2]);
    if (strncmp(cmd, "verify", 6) == 0) {
      printf("verified %016llx\n", (unsigned long long)check_all());
    } else if (strncmp(cmd, "fork", 4) == 0) {
      pid_t c = fork();
      if (c == 0) { printf("child verified %016llx\n", (unsigned long long)check_all()); _exit(0); }
      waitpid(c, NULL, 0);
    } else if (strncmp(cmd, "discard", 7) == 0) {
      size_t at = pages / 2;
      uint64_t *p = buf + at * WORDS;
      madvise(p, 16 * PAGE, MADV_DONTNEED);
      int zero = 1;
      for (size_t w = 0; w < 16 * WORDS; w++) if (p[w]) zero = 0;
      printf(zero ? "discarded zero\n" : "BROKEN discarded pages hold data\n");
      for (size_t i = 0; i < 16; i++) fill_page(p + i * WORDS, at + i);
    } else if (strncmp(cmd, "move", 4) == 0) {
      size_t at = pages - pages / 4;
      uint64_t *from = buf + at * WORDS;
      void *to = mmap(NULL, 64 * PAGE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
      uint64_t *moved = mremap(from, 64 * PAGE, 64 * PAGE, MREMAP_MAYMOVE | MREMAP_FIXED, to);
      int ok = moved != MAP_FAILED;
      for (size_t i = 0; ok && i < 64; i++) ok = page_ok(moved + i * WORDS, at + i);
      if (ok && mremap(moved, 64 * PAGE, 64 * PAGE, MREMAP_MAYMOVE | MREMAP_FIXED, from) == MAP_FAILED) ok = 0;
      printf(ok ? "moved ok\n" : "BROKEN moved pages\n");
    }
  }
}
