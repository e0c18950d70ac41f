/* A FIFO (argv[1], made here with mkfifo) shared by three processes: two
 * forked children write numbered lines into it ("A N\n" and "B N\n", one
 * write(2) each, so lines never tear) in bursts of 500 with 20 ms of rest,
 * so bytes are usually in flight; the parent reads them slowly and prints
 * "got N" every 100 lines (N counts both), checking that each writer's
 * lines arrive in order, none lost or repeated. Output: "got N" or
 * "BROKEN ...". With COUNT (argv[2]) each child stops after COUNT lines;
 * the parent prints "done A B" at EOF (both writers closed) and exits.
 * With "unlink" (argv[3]) the parent removes the FIFO's name once both
 * writers have sent a line and prints "unlinked": the ends stay open. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void nap(long ms) {
  struct timespec ts = { 0, ms * 1000000 };
  while (nanosleep(&ts, &ts) == -1 && errno == EINTR) {}
}

static void writer(const char *fifo, char tag, long count) {
  int fd = open(fifo, O_WRONLY);
  if (fd < 0) { printf("BROKEN writer %c: open: %s\n", tag, strerror(errno)); _exit(1); }
  for (long n = 1; !count || n <= count; n++) {
    char line[64];
    int len = snprintf(line, sizeof line, "%c %ld\n", tag, n);
    ssize_t w;
    while ((w = write(fd, line, len)) < 0 && errno == EINTR) {}
    if (w != len) { printf("BROKEN writer %c: write: %s\n", tag, strerror(errno)); _exit(1); }
    if (n % 500 == 0) nap(20);
  }
  close(fd);
  _exit(0);
}

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  if (argc < 2) { fprintf(stderr, "usage: fifo_shared FIFO [COUNT]\n"); return 2; }
  const char *fifo = argv[1];
  long count = argc > 2 ? atol(argv[2]) : 0;
  int unlink_it = argc > 3 && strcmp(argv[3], "unlink") == 0;
  unlink(fifo);
  if (mkfifo(fifo, 0600) < 0) { perror("mkfifo"); return 1; }
  pid_t kids[2];
  for (int i = 0; i < 2; i++) {
    kids[i] = fork();
    if (kids[i] < 0) { perror("fork"); return 1; }
    if (kids[i] == 0) writer(fifo, "AB"[i], count);
  }
  FILE *r = fopen(fifo, "r");
  if (!r) { perror("open fifo"); return 1; }
  char line[128];
  long want[2] = { 1, 1 }, total = 0;
  while (fgets(line, sizeof line, r)) {
    char tag, tail;
    long n;
    if (sscanf(line, "%c %ld%c", &tag, &n, &tail) != 3 || (tag != 'A' && tag != 'B') || tail != '\n') {
      printf("BROKEN torn line '%s'\n", line);
      return 1;
    }
    int w = tag - 'A';
    if (n != want[w]) { printf("BROKEN got %c %ld, want %c %ld\n", tag, n, tag, want[w]); return 1; }
    want[w]++;
    if (unlink_it && want[0] > 1 && want[1] > 1) {
      if (unlink(fifo) < 0) { printf("BROKEN unlink: %s\n", strerror(errno)); return 1; }
      printf("unlinked\n");
      unlink_it = 0;
    }
    if (++total % 100 == 0) { printf("got %ld\n", total); nap(15); }
  }
  for (int i = 0; i < 2; i++) {
    int status;
    if (waitpid(kids[i], &status, 0) != kids[i] || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
      printf("BROKEN writer %c ended badly\n", "AB"[i]);
      return 1;
    }
  }
  if (count && (want[0] != count + 1 || want[1] != count + 1)) {
    printf("BROKEN EOF after A %ld and B %ld lines, want %ld each\n", want[0] - 1, want[1] - 1, count);
    return 1;
  }
  printf("done %ld %ld\n", want[0] - 1, want[1] - 1);
  if (argc <= 3) unlink(fifo);
  return 0;
}
