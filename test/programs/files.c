/* Descriptors opened by path: a file read line by line (its offset moves
 * on), a file written at its offset, an O_APPEND log, a directory (used by
 * openat and read with getdents from a saved position), an O_PATH handle,
 * /dev/null, /dev/zero and /dev/urandom. Every 100 ms each is used once and
 * checked. Prints "tick N" or "BROKEN ...".
 *   files DIR   (DIR: an empty directory it fills first) */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define LINE 11
#define LINES 100000
#define ENTRIES 400

static void broken(const char *what, long n) { printf("BROKEN %s (tick %ld): %s\n", what, n, strerror(errno)); exit(1); }

static void nap(long ms) {
  struct timespec ts = { 0, ms * 1000000 };
  while (nanosleep(&ts, &ts) == -1 && errno == EINTR) {}
}

/* The next entry's name: one getdents64 record at a time, so the
 * directory's offset is always just past what the program has seen. */
static int next_entry(int dfd, char *name, size_t cap) {
  char buf[512];
  for (;;) {
    long n = syscall(SYS_getdents64, dfd, buf, sizeof buf);
    if (n <= 0) return -1;
    struct { unsigned long long ino; long long off; unsigned short reclen; unsigned char type; char name[]; } *d = (void *)buf;
    lseek(dfd, d->off, SEEK_SET);   /* consume exactly one entry */
    if (d->name[0] == '.') continue;
    snprintf(name, cap, "%s", d->name);
    return 0;
  }
}

int main(int argc, char **argv) {
  if (argc < 2) { fprintf(stderr, "usage: files DIR\n"); return 2; }
  setvbuf(stdout, NULL, _IOLBF, 0);
  char path[4096];
  snprintf(path, sizeof path, "%s/lines", argv[1]);
  FILE *f = fopen(path, "w");
  for (long i = 0; f && i < LINES; i++) fprintf(f, "%010ld\n", i);
  if (!f || fclose(f) != 0) broken("writing lines", 0);
  snprintf(path, sizeof path, "%s/entries", argv[1]);
  mkdir(path, 0700);
  for (int i = 0; i < ENTRIES; i++) {
    char e[4200];
    snprintf(e, sizeof e, "%s/e%03d", path, i);
    close(open(e, O_CREAT | O_WRONLY, 0600));
  }
  int dir = open(argv[1], O_RDONLY | O_DIRECTORY);
  int lines = openat(dir, "lines", O_RDONLY);
  int out = openat(dir, "out", O_RDWR | O_CREAT | O_TRUNC, 0600);
  int log = openat(dir, "log", O_WRONLY | O_CREAT | O_APPEND | O_TRUNC, 0600);
  int entries = openat(dir, "entries", O_RDONLY | O_DIRECTORY);
  int handle = openat(dir, "lines", O_PATH);
  int null = open("/dev/null", O_WRONLY), zero = open("/dev/zero", O_RDONLY), urandom = open("/dev/urandom", O_RDONLY);
  if (dir < 0 || lines < 0 || out < 0 || log < 0 || entries < 0 || handle < 0 || null < 0 || zero < 0 || urandom < 0)
    broken("opening", 0);
  char seen[ENTRIES] = { 0 };
  for (long n = 1;; n++) {
    char buf[32], want[32];
    if (read(lines, buf, LINE) != LINE) broken("reading a line", n);
    snprintf(want, sizeof want, "%010ld\n", n - 1);
    if (memcmp(buf, want, LINE) != 0) { buf[LINE - 1] = 0; printf("BROKEN line %s, want %ld (tick %ld)\n", buf, n - 1, n); return 1; }
    snprintf(buf, sizeof buf, "%010ld\n", n);
    if (write(out, buf, LINE) != LINE || lseek(out, 0, SEEK_CUR) != n * LINE) broken("writing out at its offset", n);
    if (write(log, buf, LINE) != LINE || lseek(log, 0, SEEK_END) != n * LINE) broken("appending to the log", n);
    char name[256];
    if (n <= ENTRIES) {
      if (next_entry(entries, name, sizeof name) < 0) broken("reading the next directory entry", n);
      int k = atoi(name + 1);
      if (name[0] != 'e' || k < 0 || k >= ENTRIES || seen[k]) { printf("BROKEN entry %s again or unknown (tick %ld)\n", name, n); return 1; }
      seen[k] = 1;
    } else if (n == ENTRIES + 1 && next_entry(entries, name, sizeof name) == 0) {
      printf("BROKEN an entry past the end: %s\n", name);
      return 1;
    }
    struct stat st;
    int probe = openat(dir, "lines", O_RDONLY);
    if (probe < 0 || close(probe) != 0) broken("openat through the directory", n);
    if (fstat(handle, &st) != 0 || st.st_size != LINES * LINE) broken("fstat through the O_PATH handle", n);
    if (!(fcntl(handle, F_GETFL) & O_PATH)) broken("the handle lost O_PATH", n);
    char z[64];
    if (write(null, buf, LINE) != LINE || read(zero, z, sizeof z) != sizeof z || read(urandom, z, 16) != 16) broken("devices", n);
    for (size_t i = 0; i < 48; i++) if (z[i + 16]) broken("/dev/zero gave a non-zero byte", n);
    printf("tick %ld\n", n);
    nap(100);
  }
}
