/* A scratch file written, closed, reopened read-only, read slowly and
 * deleted at the end — as sort's temporary files, a compiler's, python's
 * tempfile. Each line read is checked against what was written.
 *   scratch_reread DIR     make DIR/stasis-scratch-XXXXXX (DIR: $TMPDIR or /tmp in use)
 *   scratch_reread -i FILE read FILE, made by someone else (an input), keep it
 * Prints "closed PATH" once the file is written and closed, 2 s later
 * "scratch PATH" as it reopens it, "read N" every 50 lines, "done N SUM";
 * "BROKEN ..." when a line is not what was written. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define LINES 3000
#define LINE 16   /* "%08d-%06ld\n" */

static void line_of(long i, char *buf) {
  char tmp[64];
  snprintf(tmp, sizeof tmp, "%08ld-%06ld\n", i % 100000000, (i * 7919) % 1000000);
  memcpy(buf, tmp, LINE + 1);
}

static void nap(long ms) {
  struct timespec ts = { ms / 1000, ms % 1000 * 1000000 };
  while (nanosleep(&ts, &ts) == -1 && errno == EINTR) {}
}

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  int input = argc > 2 && strcmp(argv[1], "-i") == 0;
  char path[4096], want[LINE + 1], got[LINE + 1];   /* each line and its NUL */
  /* O_TMPFILE passes a mode as O_CREAT does: it must reach the kernel. */
  int anon = open(input ? "/tmp" : argc > 1 ? argv[1] : "/tmp", O_TMPFILE | O_RDWR, 0640);
  struct stat st;
  if (anon >= 0 && (fstat(anon, &st) < 0 || (st.st_mode & 07777) != 0640)) { printf("BROKEN O_TMPFILE mode %o\n", st.st_mode & 07777); return 1; }
  if (anon >= 0) close(anon);
  if (input) {
    snprintf(path, sizeof path, "%s", argv[2]);
  } else {
    snprintf(path, sizeof path, "%s/stasis-scratch-XXXXXX", argc > 1 ? argv[1] : "/tmp");
    int w = mkstemp(path);
    if (w < 0) { perror("mkstemp"); return 1; }
    for (long i = 0; i < LINES; i++) {
      line_of(i, want);
      if (write(w, want, LINE) != LINE) { perror("write"); return 1; }
    }
    close(w);
    printf("closed %s\n", path);
    nap(2000);   /* a checkpoint now finds no descriptor of it */
  }
  printf("scratch %s\n", path);
  int r = open(path, O_RDONLY);
  if (r < 0) { perror("open"); return 1; }
  unsigned long sum = 0;
  for (long i = 0; i < LINES; i++) {
    line_of(i, want);
    ssize_t n = read(r, got, LINE);
    got[n > 0 ? n : 0] = 0;
    if (n != LINE || memcmp(got, want, LINE) != 0) { printf("BROKEN line %ld: '%.16s', not '%.15s'\n", i, got, want); return 1; }
    sum = sum * 31 + (unsigned long)strtol(got + 9, NULL, 10);
    if ((i + 1) % 50 == 0) printf("read %ld\n", i + 1);
    nap(3);
  }
  close(r);
  if (!input && unlink(path) < 0) { perror("unlink"); return 1; }
  printf("done %d %lu\n", LINES, sum);
  return 0;
}
