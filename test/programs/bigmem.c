/* Allocates SIZE MiB (default 1024): the first quarter random, the rest a
 * pattern. It verifies the whole buffer against the checksum taken at
 * start, prints "verified N <checksum>", and again every 100 ms. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <errno.h>
#include <sys/mman.h>

static uint64_t checksum(const uint64_t *p, size_t words) {
  uint64_t h = 1469598103934665603ull;
  for (size_t i = 0; i < words; i++) h = (h ^ p[i]) * 1099511628211ull;
  return h;
}

int main(int argc, char **argv) {
  size_t mib = argc > 1 ? strtoul(argv[1], NULL, 10) : 1024;
  size_t bytes = mib << 20, words = bytes / 8;
  setvbuf(stdout, NULL, _IOLBF, 0);
  uint64_t *buf = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (buf == MAP_FAILED) { perror("mmap"); return 1; }
  uint64_t x = 88172645463325252ull ^ (uint64_t)time(NULL);
  for (size_t i = 0; i < words / 4; i++) { x ^= x << 13; x ^= x >> 7; x ^= x << 17; buf[i] = x; }
  for (size_t i = words / 4; i < words; i++) buf[i] = (i % 509) * 0x0101010101010101ull;
  uint64_t want = checksum(buf, words);
  printf("ready %zu MiB %016llx\n", mib, (unsigned long long)want);
  for (long n = 1;; n++) {
    struct timespec ts = { 0, 100 * 1000000 };
    while (nanosleep(&ts, &ts) == -1 && errno == EINTR) {}
    uint64_t got = checksum(buf, words);
    if (got != want) { printf("MISMATCH %016llx != %016llx\n", (unsigned long long)got, (unsigned long long)want); return 1; }
    printf("verified %ld %016llx\n", n, (unsigned long long)got);
  }
}
