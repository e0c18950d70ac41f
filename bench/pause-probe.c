/* How long a checkpoint stops the program: holds SIZE MiB (¼ random, ¾ a
 * pattern, as test/programs/bigmem), wakes every 2 ms, writes a word into
 * 16 random pages (copy-on-write work for a forked checkpoint) and notes
 * the gap since its last wake-up. Every 50 wake-ups it prints
 * "gap MS N": the longest gap of those 50, in milliseconds; a wake-up more
 * than 250 ms late (a stopped checkpoint, a restart) also prints
 * "late MS N WHEN" at once, after its 16 writes: the first progress of a
 * restored probe, which touches little of its memory; WHEN is the wall
 * clock then (seconds, as bash's EPOCHREALTIME), so that a bench's time to
 * it does not include how often the bench looks at the output. With "thp"
 * after SIZE its memory is madvise(MADV_HUGEPAGE): 2 MiB pages, whose
 * page tables a fork copies 512 times faster. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

int main(int argc, char **argv) {
  size_t mib = argc > 1 ? strtoul(argv[1], NULL, 10) : 1024;
  size_t bytes = mib << 20, words = bytes / 8;
  setvbuf(stdout, NULL, _IOLBF, 0);
  uint64_t *buf = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (buf == MAP_FAILED) { perror("mmap"); return 1; }
  if (argc > 2 && strcmp(argv[2], "thp") == 0 && madvise(buf, bytes, MADV_HUGEPAGE) < 0) { perror("madvise"); return 1; }
  uint64_t x = 88172645463325252ull ^ (uint64_t)time(NULL);
  for (size_t i = 0; i < words / 4; i++) { x ^= x << 13; x ^= x >> 7; x ^= x << 17; buf[i] = x; }
  for (size_t i = words / 4; i < words; i++) buf[i] = (i % 509) * 0x0101010101010101ull;
  printf("ready %zu MiB\n", mib);
  double last = now_ms(), worst = 0;
  for (long n = 1;; n++) {
    struct timespec ts = { 0, 2 * 1000000 };
    while (nanosleep(&ts, &ts) == -1 && errno == EINTR) {}
    double t = now_ms();
    double gap = t - last;
    if (gap > worst) worst = gap;
    last = t;
    for (int k = 0; k < 16; k++) { x ^= x << 13; x ^= x >> 7; x ^= x << 17; buf[(x % (bytes / 4096)) * 512]++; }
    if (gap > 250) {
      struct timespec wall;
      clock_gettime(CLOCK_REALTIME, &wall);
      printf("late %.1f %ld %lld.%06ld\n", gap, n, (long long)wall.tv_sec, wall.tv_nsec / 1000);
    }
    if (n % 50 == 0) { printf("gap %.1f %ld\n", worst, n); worst = 0; }
  }
}
