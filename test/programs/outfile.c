/* Incremental images of files the job writes: writes MIB MiB of
 * pseudo-random blocks (each 1 MiB block a function of its number) to PATH,
 * keeps it open for writing and prints "ready". Each SIGUSR1 appends the
 * next block ("appended N"). Each SIGUSR2 reads the file back and prints
 * "file ok N" when it holds exactly blocks 0..N-1, else "file bad ...".
 * The file, not memory, is what must come back: the program keeps nothing
 * of it. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define BLOCK (1 << 20)
static volatile sig_atomic_t append, check;
static void on_usr1(int sig) { (void)sig; append++; }
static void on_usr2(int sig) { (void)sig; check++; }

static void block(uint64_t n, uint64_t *p) {
  uint64_t x = 88172645463325252ull ^ (n * 0x9e3779b97f4a7c15ull);
  for (size_t i = 0; i < BLOCK / 8; i++) { x ^= x << 13; x ^= x >> 7; x ^= x << 17; p[i] = x; }
}

int main(int argc, char **argv) {
  if (argc < 3) { fprintf(stderr, "usage: outfile PATH MIB\n"); return 2; }
  setvbuf(stdout, NULL, _IOLBF, 0);
  signal(SIGUSR1, on_usr1);
  signal(SIGUSR2, on_usr2);
  static uint64_t buf[BLOCK / 8], got[BLOCK / 8];
  int fd = open(argv[1], O_RDWR | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) { perror(argv[1]); return 1; }
  long blocks = strtol(argv[2], NULL, 10);
  for (long n = 0; n < blocks; n++) {
    block((uint64_t)n, buf);
    if (write(fd, buf, BLOCK) != BLOCK) { perror("write"); return 1; }
  }
  printf("ready %ld\n", blocks);
  int appended = 0, checked = 0;
  for (;;) {
    struct timespec ts = { 0, 50 * 1000000 };
    while (nanosleep(&ts, &ts) == -1 && errno == EINTR) {}
    if (appended != append) {
      appended = append;
      block((uint64_t)blocks, buf);
      if (pwrite(fd, buf, BLOCK, (off_t)blocks * BLOCK) != BLOCK) { perror("pwrite"); return 1; }
      printf("appended %ld\n", ++blocks);
    }
    if (checked != check) {
      checked = check;
      struct stat st;
      if (fstat(fd, &st) < 0 || st.st_size != (off_t)blocks * BLOCK) {
        printf("file bad size %lld, want %ld blocks\n", (long long)st.st_size, blocks);
        continue;
      }
      long n = 0;
      for (; n < blocks; n++) {
        block((uint64_t)n, buf);
        if (pread(fd, got, BLOCK, (off_t)n * BLOCK) != BLOCK || memcmp(buf, got, BLOCK) != 0) break;
      }
      if (n == blocks) printf("file ok %ld\n", blocks);
      else printf("file bad block %ld\n", n);
    }
  }
}
