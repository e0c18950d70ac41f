/* Private file mappings (incremental images, docs/incremental.md "Mapped
 * files"): maps PATH MAP_PRIVATE and checks its checksum every 100 ms
 * ("verified N SUM"). With "w" the mapping is writable and the program
 * changes one page of it first (an anonymous copy, which the image must
 * hold: the file keeps its bytes). */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static uint64_t checksum(const unsigned char *p, size_t n) {
  uint64_t h = 1469598103934665603ull;
  for (size_t i = 0; i < n; i += 8) {
    uint64_t v;
    memcpy(&v, p + i, n - i < 8 ? n - i : 8);
    h = (h ^ v) * 1099511628211ull;
  }
  return h;
}

int main(int argc, char **argv) {
  if (argc < 2) { fprintf(stderr, "usage: mapfile PATH [w]\n"); return 2; }
  setvbuf(stdout, NULL, _IOLBF, 0);
  int writable = argc > 2 && strcmp(argv[2], "w") == 0;
  int fd = open(argv[1], O_RDONLY);
  struct stat st;
  if (fd < 0 || fstat(fd, &st) < 0) { perror(argv[1]); return 1; }
  size_t n = (size_t)st.st_size;
  unsigned char *p = mmap(NULL, n, PROT_READ | (writable ? PROT_WRITE : 0), MAP_PRIVATE, fd, 0);
  if (p == MAP_FAILED) { perror("mmap"); return 1; }
  close(fd);
  if (writable) memset(p + 3 * 4096, 0, 4096);   /* zeros: a changed page that reads as zero is still the process's */
  uint64_t want = checksum(p, n);
  printf("ready %016llx\n", (unsigned long long)want);
  for (long i = 1;; i++) {
    struct timespec ts = { 0, 100 * 1000000 };
    while (nanosleep(&ts, &ts) == -1 && errno == EINTR) {}
    uint64_t got = checksum(p, n);
    printf("%s %ld %016llx\n", got == want ? "verified" : "BROKEN", i, (unsigned long long)got);
  }
}
