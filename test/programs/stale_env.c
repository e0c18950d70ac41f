/* A parent that, like GNU make, copies its environment once at start and
 * hands that copy to every child it starts with posix_spawn — after a
 * restart the copy still names the coordinator of the first run. Every
 * 100 ms it prints "tick N"; whenever it has no worker it spawns one
 * ("spawned W"), which prints "worker W K" every 100 ms for 40 ticks and
 * exits 0; the parent reaps it ("reaped W") or prints "BROKEN ...".
 *   /abs/path/stale_env   (stale_env worker: a worker) */
#include <errno.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static void nap(long ms) {
  struct timespec ts = { 0, ms * 1000000 };
  while (nanosleep(&ts, &ts) == -1 && errno == EINTR) {}
}

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  if (argc > 1 && strcmp(argv[1], "worker") == 0) {
    for (int k = 1; k <= 40; k++) { printf("worker %d %d\n", getpid(), k); nap(100); }
    return 0;
  }
  int n = 0;
  while (environ[n]) n++;
  char **copy = calloc(n + 1, sizeof *copy);
  for (int i = 0; i < n; i++) copy[i] = strdup(environ[i]);
  pid_t worker = 0;
  for (long t = 1;; t++) {
    if (!worker) {
      /* argv[0], not /proc/self/exe: after a restart that names the restart loader. */
      char *args[] = { argv[0], "worker", NULL };
      int rc = posix_spawn(&worker, argv[0], NULL, NULL, args, copy);
      if (rc != 0) { printf("BROKEN posix_spawn: %s\n", strerror(rc)); return 1; }
      printf("spawned %d\n", worker);
    }
    int st;
    pid_t w = waitpid(worker, &st, WNOHANG);
    if (w == worker) {
      if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) printf("BROKEN worker %d status %#x\n", worker, st);
      else printf("reaped %d\n", worker);
      worker = 0;
    } else if (w < 0) {
      printf("BROKEN waitpid %d: %s\n", worker, strerror(errno));
      worker = 0;
    }
    printf("tick %ld\n", t);
    nap(100);
  }
}
