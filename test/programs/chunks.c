/* Incremental images: SIZE MiB (default 64) of random bytes, verified
 * against their checksum every 100 ms ("verified N SUM"). Each SIGUSR1
 * rewrites 1 MiB of it in the middle with new random bytes and prints
 * "changed K SUM" with the new checksum: one chunk changed, the rest not.
 * Each SIGUSR2 changes memory without writing to it: 1 MiB at a quarter
 * is dropped (MADV_DONTNEED: zeros) and the first whole 8 MiB-aligned
 * 8 MiB past the middle is mapped anew (MAP_FIXED: zeros; an image's runs
 * are cut at those boundaries), then "dropped K SUM". */
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <time.h>

static volatile sig_atomic_t change, drop;
static void on_usr1(int sig) { (void)sig; change++; }
static void on_usr2(int sig) { (void)sig; drop++; }

static uint64_t checksum(const uint64_t *p, size_t words) {
  uint64_t h = 1469598103934665603ull;
  for (size_t i = 0; i < words; i++) h = (h ^ p[i]) * 1099511628211ull;
  return h;
}

static uint64_t x;
static void fill(uint64_t *p, size_t words) {
  for (size_t i = 0; i < words; i++) { x ^= x << 13; x ^= x >> 7; x ^= x << 17; p[i] = x; }
}

int main(int argc, char **argv) {
  size_t mib = argc > 1 ? strtoul(argv[1], NULL, 10) : 64;
  size_t words = (mib << 20) / 8;
  setvbuf(stdout, NULL, _IOLBF, 0);
  signal(SIGUSR1, on_usr1);
  signal(SIGUSR2, on_usr2);
  uint64_t *buf = mmap(NULL, mib << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (buf == MAP_FAILED) { perror("mmap"); return 1; }
  x = 88172645463325252ull ^ (uint64_t)time(NULL);
  fill(buf, words);
  uint64_t want = checksum(buf, words);
  printf("ready %zu MiB %016llx\n", mib, (unsigned long long)want);
  int changed = 0, dropped = 0;
  for (long n = 1;; n++) {
    struct timespec ts = { 0, 100 * 1000000 };
    while (nanosleep(&ts, &ts) == -1 && errno == EINTR) {}
    if (changed != change) {
      changed = change;
      fill(buf + words / 2, (1 << 20) / 8);
      want = checksum(buf, words);
      printf("changed %d %016llx\n", changed, (unsigned long long)want);
    }
    if (dropped != drop) {
      dropped = drop;
      madvise(buf + words / 4, 1 << 20, MADV_DONTNEED);
      uintptr_t at = ((uintptr_t)(buf + words / 2) + (8 << 20) - 1) & ~(uintptr_t)((8 << 20) - 1);
      if (at + (8 << 20) > (uintptr_t)(buf + words) ||
          mmap((void *)at, 8 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) == MAP_FAILED) {
        perror("mmap");
        return 1;
      }
      want = checksum(buf, words);
      printf("dropped %d %016llx\n", dropped, (unsigned long long)want);
    }
    uint64_t got = checksum(buf, words);
    if (got != want) { printf("MISMATCH %016llx != %016llx\n", (unsigned long long)got, (unsigned long long)want); return 1; }
    printf("verified %ld %016llx\n", n, (unsigned long long)got);
  }
}
