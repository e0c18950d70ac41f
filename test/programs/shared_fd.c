/* One open file description shared by a parent and its forked child (and a
 * dup in each): they take turns appending fixed-size lines through it,
 * handing the turn over a pipe pair. The description is not O_APPEND, so
 * only a shared offset puts each line after the other's: the parent checks
 * after every round that the offset is where both wrote up to, that the
 * dup's offset is the same, and that the file holds the two lines of the
 * round there. Prints "round N offset X", or "BROKEN ...".
 *   shared_fd FILE */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define LINE 16

static void broken(const char *what, long n) { printf("BROKEN %s (round %ld)\n", what, n); exit(1); }

static void line(char *buf, char who, long n) {
  char tmp[32];
  snprintf(tmp, sizeof tmp, "%c %013ld\n", who, n);
  memcpy(buf, tmp, LINE);
}

static void put(int fd, char who, long n) {
  char buf[LINE];
  line(buf, who, n);
  if (write(fd, buf, LINE) != LINE) broken("write", n);
}

static void take_turn(int from) {
  char c;
  ssize_t r;
  while ((r = read(from, &c, 1)) < 0 && errno == EINTR) {}
  if (r != 1) exit(0);   /* the other side is gone */
}

int main(int argc, char **argv) {
  if (argc < 2) { fprintf(stderr, "usage: shared_fd FILE\n"); return 2; }
  setvbuf(stdout, NULL, _IOLBF, 0);
  int fd = open(argv[1], O_WRONLY | O_CREAT | O_TRUNC, 0600);
  int reader = open(argv[1], O_RDONLY);
  int to_child[2], to_parent[2];
  if (fd < 0 || reader < 0 || pipe(to_child) || pipe(to_parent)) { perror("shared_fd"); return 1; }
  int dup_fd = dup2(fd, 50);
  pid_t child = fork();
  if (child < 0) { perror("fork"); return 1; }
  if (child == 0) {
    close(to_child[1]);   /* so that the parent's end closing ends the child */
    close(to_parent[0]);
    for (long n = 1;; n++) {
      take_turn(to_child[0]);
      put(n % 2 ? fd : dup_fd, 'C', n);
      if (write(to_parent[1], "x", 1) != 1) return 0;
    }
  }
  close(to_child[0]);
  close(to_parent[1]);
  for (long n = 1;; n++) {
    put(n % 2 ? dup_fd : fd, 'P', n);
    if (write(to_child[1], "x", 1) != 1) broken("handing the turn over", n);
    take_turn(to_parent[0]);
    off_t want = (off_t)n * 2 * LINE, at = lseek(fd, 0, SEEK_CUR);
    if (at != want) { printf("BROKEN offset %lld, want %lld (round %ld)\n", (long long)at, (long long)want, n); return 1; }
    if (lseek(dup_fd, 0, SEEK_CUR) != at) broken("the dup's offset differs", n);
    char got[2 * LINE], expect[2 * LINE];
    line(expect, 'P', n);
    line(expect + LINE, 'C', n);
    if (pread(reader, got, 2 * LINE, want - 2 * LINE) != 2 * LINE || memcmp(got, expect, 2 * LINE) != 0)
      broken("the file does not hold this round's lines", n);
    printf("round %ld offset %lld\n", n, (long long)at);
    struct timespec ts = { 0, 20 * 1000000L };
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR) {}
  }
}
