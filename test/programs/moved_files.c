/* Files that move between checkpoint and restart (stasis restart
 * --path-map). In directory argv[1], which becomes the working directory,
 * it writes "data" (records "%07d\n"), keeps it open read-only and mapped
 * shared, appends to "log", and keeps both ends of the FIFO "fifo" with
 * three bytes "abc" in it. Every 100 ms, tick N: reads the next record
 * through the descriptor (its offset), compares it with the same bytes of
 * the mapping, checks that "data" is still found by its relative name (the
 * working directory), takes one byte out of the FIFO and puts it back at
 * the end (it must be "abc"[(N-1)%3], and the FIFO the one at ./fifo),
 * appends "tick N\n" to the log and prints "tick N ok", or "BROKEN ..." and
 * exits 1. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define RECORDS 100000
#define REC 8

static void nap(long ms) {
  struct timespec ts = { 0, ms * 1000000 };
  while (nanosleep(&ts, &ts) == -1 && errno == EINTR) {}
}

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  if (argc < 2 || chdir(argv[1]) < 0) { fprintf(stderr, "usage: moved_files DIR (an existing directory)\n"); return 2; }
  FILE *w = fopen("data", "w");
  for (int i = 0; w && i < RECORDS; i++) fprintf(w, "%07d\n", i);
  if (!w || fclose(w) != 0) { perror("data"); return 1; }
  int fd = open("data", O_RDONLY);
  const char *map = fd < 0 ? MAP_FAILED : mmap(NULL, RECORDS * REC, PROT_READ, MAP_SHARED, fd, 0);
  int log = open("log", O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0644);
  unlink("fifo");
  int frd = mkfifo("fifo", 0600) == 0 ? open("fifo", O_RDONLY | O_NONBLOCK) : -1, fwr = frd < 0 ? -1 : open("fifo", O_WRONLY);
  if (map == MAP_FAILED || log < 0 || fwr < 0 || write(fwr, "abc", 3) != 3) { perror("open"); return 1; }
  for (long n = 1;; n++) {
    char rec[REC + 1] = { 0 };
    off_t at = lseek(fd, 0, SEEK_CUR);
    if (read(fd, rec, REC) != REC) { printf("BROKEN tick %ld: read: %s\n", n, strerror(errno)); return 1; }
    if (memcmp(rec, map + at, REC) != 0 || atol(rec) != at / REC) {
      printf("BROKEN tick %ld: record at %lld is '%.7s', mapping '%.7s'\n", n, (long long)at, rec, map + at);
      return 1;
    }
    if (at + REC >= RECORDS * REC) lseek(fd, 0, SEEK_SET);
    struct stat st;
    if (stat("data", &st) < 0 || st.st_size != RECORDS * REC) { printf("BROKEN tick %ld: ./data: %s\n", n, strerror(errno)); return 1; }
    char c;
    struct stat here, held;
    if (read(frd, &c, 1) != 1 || c != "abc"[(n - 1) % 3] || write(fwr, &c, 1) != 1) {
      printf("BROKEN tick %ld: the FIFO gave '%c', want '%c'\n", n, c, "abc"[(n - 1) % 3]);
      return 1;
    }
    if (stat("fifo", &here) < 0 || fstat(frd, &held) < 0 || here.st_ino != held.st_ino || here.st_dev != held.st_dev) {
      printf("BROKEN tick %ld: the FIFO held is not ./fifo\n", n);
      return 1;
    }
    char line[32];
    int len = snprintf(line, sizeof line, "tick %ld\n", n);
    if (write(log, line, len) != len) { printf("BROKEN tick %ld: log: %s\n", n, strerror(errno)); return 1; }
    printf("tick %ld ok\n", n);
    nap(100);
  }
}
