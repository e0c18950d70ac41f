/* The remote end of test/ssh/relay.test.ts: reads rounds of data on stdin
 * ("ROUND N LEN\n" then LEN bytes), answers each with a line carrying the
 * block's checksum and a running hash of everything so far (its memory
 * must survive a restart), and at EOF prints its total, a line on stderr,
 * and exits 7. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

static uint64_t fnv(uint64_t h, const unsigned char *p, size_t n) {
  for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 0x100000001b3ULL;
  return h;
}

int main(void) {
  static unsigned char buf[1 << 20];
  uint64_t total = 0xcbf29ce484222325ULL;
  int rounds = 0, n;
  size_t len;
  while (scanf("ROUND %d %zu", &n, &len) == 2 && getchar() == '\n') {
    if (len > sizeof buf || fread(buf, 1, len, stdin) != len) { printf("BROKEN short round %d\n", n); return 1; }
    total = fnv(total, buf, len);
    rounds++;
    printf("round %d sum %016llx total %016llx\n", n, (unsigned long long)fnv(0xcbf29ce484222325ULL, buf, len),
           (unsigned long long)total);
    fflush(stdout);
  }
  printf("worker end: %d rounds, total %016llx\n", rounds, (unsigned long long)total);
  fprintf(stderr, "worker stderr: done\n");
  return 7;
}
