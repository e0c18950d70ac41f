/* A pipe between two processes: the parent forks a child that writes
 * numbered lines ("line N\n") into a pipe at its own pace (bursts of 500,
 * then 20 ms of rest, so bytes are usually in flight); the parent reads
 * them slowly and prints "got N" every 100 lines, checking that no line is
 * lost, repeated, reordered or torn. Output: "got N" or "BROKEN ...". With
 * an argument COUNT the child stops after COUNT lines and the parent prints
 * "done N" at EOF and exits. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void nap(long ms) {
  struct timespec ts = { 0, ms * 1000000 };
  while (nanosleep(&ts, &ts) == -1 && errno == EINTR) {}
}

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  long count = argc > 1 ? atol(argv[1]) : 0;
  int p[2];
  if (pipe(p) < 0) { perror("pipe"); return 1; }
  pid_t child = fork();
  if (child < 0) { perror("fork"); return 1; }
  if (child == 0) {
    close(p[0]);
    FILE *w = fdopen(p[1], "w");
    for (long n = 1; !count || n <= count; n++) {
      fprintf(w, "line %ld\n", n);
      if (n % 500 == 0) { fflush(w); nap(20); }
    }
    fclose(w);
    _exit(0);
  }
  close(p[1]);
  FILE *r = fdopen(p[0], "r");
  char line[128];
  long want = 1;
  while (fgets(line, sizeof line, r)) {
    long n;
    char tail;
    if (sscanf(line, "line %ld%c", &n, &tail) != 2 || tail != '\n') { printf("BROKEN torn line '%s'\n", line); return 1; }
    if (n != want) { printf("BROKEN got line %ld, want %ld\n", n, want); return 1; }
    if (n % 100 == 0) { printf("got %ld\n", n); nap(30); }
    want++;
  }
  int status;
  waitpid(child, &status, 0);
  if (count && want != count + 1) { printf("BROKEN EOF after %ld lines, want %ld\n", want - 1, count); return 1; }
  printf("done %ld\n", want - 1);
  return 0;
}
