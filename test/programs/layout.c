/* Unusual memory layouts the loader must rebuild exactly:
 *  - a 64 GiB PROT_NONE reservation with a read-write window in the middle
 *  - a page fixed near the top of the address space
 *  - a shared mapping of a file (writes go to the file, also after restart;
 *    the file itself is not rolled back, so it may be ahead of the process)
 *  - a guard page (PROT_NONE) between two data pages
 *  - a heap grown with brk, still growable after restart
 * Prints "layout N ok" every 100 ms; any mismatch prints "BROKEN <what>". */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define GiB (1ull << 30)

static void broken(const char *what) { printf("BROKEN %s\n", what); exit(1); }

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  const char *file = argc > 1 ? argv[1] : "/tmp/stasis-layout.bin";
  char *reserve = mmap(NULL, 64 * GiB, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (reserve == MAP_FAILED) broken("reserve");
  char *window = reserve + 32 * GiB;
  if (mprotect(window, 1 << 20, PROT_READ | PROT_WRITE) < 0) broken("mprotect");
  memset(window, 0x5a, 1 << 20);
  /* A page high up, where nothing else is: ASLR may have put the libraries
   * or the 64 GiB reservation at the first choice. */
  char *top = MAP_FAILED;
  for (uint64_t at = 0x7ff000000000ull; top == MAP_FAILED && at >= 0x7e0000000000ull; at -= 0x2000000000ull)
    top = mmap((void *)at, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
  if (top == MAP_FAILED) broken("top");
  strcpy(top, "top of the address space");
  int fd = open(file, O_RDWR | O_CREAT | O_TRUNC, 0600);
  if (fd < 0 || ftruncate(fd, 4096) < 0) broken("file");
  uint64_t *shared = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (shared == MAP_FAILED) broken("shared");
  char *guarded = mmap(NULL, 3 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (guarded == MAP_FAILED || mprotect(guarded + 4096, 4096, PROT_NONE) < 0) broken("guard");
  guarded[0] = 'a';
  guarded[2 * 4096] = 'b';
  char *heap = sbrk(0);
  if (sbrk(1 << 20) == (void *)-1) broken("brk");
  memset(heap, 0x33, 1 << 20);
  for (uint64_t n = 1;; n++) {
    for (int i = 0; i < (1 << 20); i += 4096) if ((unsigned char)window[i] != 0x5a) broken("window");
    if (strcmp(top, "top of the address space") != 0) broken("top");
    if (shared[0] < n - 1) broken("shared file");
    shared[0] = n;
    uint64_t disk = 0;
    if (pread(fd, &disk, 8, 0) != 8 || disk != n) broken("shared file on disk");
    if (guarded[0] != 'a' || guarded[2 * 4096] != 'b') broken("guarded");
    for (int i = 0; i < (1 << 20); i += 4096) if (heap[i] != 0x33) broken("heap");
    char *more = sbrk(4096);   /* the heap can still grow */
    if (more == (void *)-1) broken("brk growth");
    more[0] = 1;
    sbrk(-4096);
    printf("layout %llu ok\n", (unsigned long long)n);
    struct timespec ts = { 0, 100 * 1000000 };
    while (nanosleep(&ts, &ts) == -1 && errno == EINTR) {}
  }
}
