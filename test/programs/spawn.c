/* Children made every other way than fork(): one by posix_spawn (in its own
 * process group), one by vfork + exec, one by clone() on a stack of its own
 * (running a function, no exec), and a daemon by double fork (setsid
 * in the middle child, which exits; the grandchild is orphaned). Each
 * worker prints "worker K N" every 100 ms and checks that its pid, process
 * group and session are what they were at its start (and, but for the
 * daemon, its parent). The parent checks that its two direct children are
 * still its children, prints "parent N"; after LIMIT ticks (argv[1],
 * default: forever) it ends them with SIGTERM and prints "reaped K" for
 * each waitpid() that reports that signal. Prints "BROKEN ..." otherwise.
 *   spawn [LIMIT]      (spawn worker K: a worker) */
#include <errno.h>
#include <signal.h>
#include <sched.h>
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

static int worker(const char *k, int daemon) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  pid_t pid = getpid(), ppid = getppid(), pgid = getpgid(0), sid = getsid(0);
  for (long n = 1;; n++) {
    if (getpid() != pid || getpgid(0) != pgid || getsid(0) != sid || (!daemon && getppid() != ppid)) {
      printf("BROKEN worker %s: pid %d/%d pgid %d/%d sid %d/%d ppid %d/%d\n", k, getpid(), pid, getpgid(0), pgid,
             getsid(0), sid, getppid(), ppid);
      return 1;
    }
    printf("worker %s %ld\n", k, n);
    nap(100);
  }
}

static int clone_child(void *arg) { return worker((const char *)arg, 0); }

static void start_daemon(const char *self) {
  pid_t middle = fork();
  if (middle < 0) { perror("fork"); exit(1); }
  if (middle == 0) {
    setsid();
    pid_t d = fork();
    if (d == 0) execl(self, self, "worker", "D", (char *)NULL);
    _exit(d < 0);
  }
  int st;
  if (waitpid(middle, &st, 0) != middle || !WIFEXITED(st) || WEXITSTATUS(st) != 0) { printf("BROKEN middle child\n"); exit(1); }
}

int main(int argc, char **argv) {
  if (argc > 2 && strcmp(argv[1], "worker") == 0) return worker(argv[2], strcmp(argv[2], "D") == 0);
  setvbuf(stdout, NULL, _IOLBF, 0);
  long limit = argc > 1 ? atol(argv[1]) : 0;
  pid_t kids[3];
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP);
  posix_spawnattr_setpgroup(&attr, 0);
  char *sargv[] = { argv[0], "worker", "S", NULL };
  if (posix_spawn(&kids[0], argv[0], NULL, &attr, sargv, environ) != 0) { perror("posix_spawn"); return 1; }
  kids[1] = vfork();
  if (kids[1] < 0) { perror("vfork"); return 1; }
  if (kids[1] == 0) { execl(argv[0], argv[0], "worker", "V", (char *)NULL); _exit(127); }
  static char clone_stack[256 * 1024] __attribute__((aligned(16)));
  kids[2] = clone(clone_child, clone_stack + sizeof clone_stack, SIGCHLD, "C");
  if (kids[2] < 0) { perror("clone"); return 1; }
  start_daemon(argv[0]);
  for (long n = 1; !limit || n <= limit; n++) {
    for (int i = 0; i < 3; i++)
      if (waitpid(kids[i], NULL, WNOHANG) != 0 || kill(kids[i], 0) != 0) { printf("BROKEN child %d is gone\n", kids[i]); return 1; }
    printf("parent %ld\n", n);
    nap(100);
  }
  for (int i = 0; i < 3; i++) {
    int st;
    kill(kids[i], SIGTERM);
    if (waitpid(kids[i], &st, 0) != kids[i] || !WIFSIGNALED(st) || WTERMSIG(st) != SIGTERM) { printf("BROKEN reaping %d\n", kids[i]); return 1; }
    printf("reaped %c\n", "SVC"[i]);
  }
  return 0;
}
