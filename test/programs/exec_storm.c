/* Forks and execs in a tight loop, N rounds (argv[1], default 400): each
 * round starts a child that execs this program again as "exec_storm exit K"
 * (which exits with status K at once) through one of execve, execv,
 * execvp, execl, execlp, execle, fexecve, execveat. Every third child is
 * made by vfork; of the others, every other one runs a second thread at
 * the time of the exec. Every fourth round also runs the program through
 * posix_spawn and system(). All along, a thread of the parent keeps
 * failing to exec a missing file. The parent checks each status: "FAIL
 * ..." for a child that did not exit with its K (one killed by a signal
 * says which), "iter I" every 50 rounds, "done N fails=F". */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;
static char self[4096];

static void *spin(void *arg) {
  (void)arg;
  for (volatile unsigned long n = 0;; n++) {}
  return NULL;
}

/* Meanwhile a thread of the parent keeps calling exec on a path that does
 * not exist: a failed exec must leave the process as it was (checkpoints
 * still stop it). */
static void *failing_execs(void *arg) {
  (void)arg;
  char *argv[] = { "missing", NULL };
  for (;;) {
    execv("/nonexistent/exec_storm", argv);
    if (errno != ENOENT) printf("FAIL failed exec: %s\n", strerror(errno));
    usleep(2000);
  }
  return NULL;
}

static __attribute__((noreturn)) void exec_self(int how, int k) {
  char code[16];
  snprintf(code, sizeof code, "%d", k);
  char *argv[] = { "exec_storm", "exit", code, NULL };
  switch (how) {
  case 0: execve(self, argv, environ); break;
  case 1: execv(self, argv); break;
  case 2: execvp(self, argv); break;
  case 3: execl(self, "exec_storm", "exit", code, (char *)NULL); break;
  case 4: execlp(self, "exec_storm", "exit", code, (char *)NULL); break;
  case 5: execle(self, "exec_storm", "exit", code, (char *)NULL, environ); break;
  case 6: { int fd = open(self, O_RDONLY | O_CLOEXEC); fexecve(fd, argv, environ); break; }
  case 7: execveat(AT_FDCWD, self, argv, environ, 0); break;
  }
  printf("FAIL exec %d: %s\n", how, strerror(errno));
  _exit(100);
}

/* The child never returns from here: it execs or exits. */
static pid_t start_child(int i, int k) {
  if (i % 3 == 0) {
    pid_t pid = vfork();
    if (pid == 0) exec_self(i % 8, k);
    return pid;
  }
  pid_t pid = fork();
  if (pid == 0) {
    pthread_t th;
    if (i % 2 && pthread_create(&th, NULL, spin, NULL) != 0) _exit(101);
    exec_self(i % 8, k);
  }
  return pid;
}

static int check(int round, const char *what, int status, int k) {
  if (WIFEXITED(status) && WEXITSTATUS(status) == k) return 0;
  if (WIFSIGNALED(status)) printf("FAIL %d %s: killed by signal %d\n", round, what, WTERMSIG(status));
  else printf("FAIL %d %s: status 0x%x, want exit %d\n", round, what, status, k);
  return 1;
}

int main(int argc, char **argv) {
  if (argc == 3 && strcmp(argv[1], "exit") == 0) return atoi(argv[2]);
  setvbuf(stdout, NULL, _IOLBF, 0);
  ssize_t len = readlink("/proc/self/exe", self, sizeof self - 1);
  if (len <= 0) { perror("readlink"); return 1; }
  self[len] = 0;
  int n = argc > 1 ? atoi(argv[1]) : 400, fails = 0;
  pthread_t failer;
  if (pthread_create(&failer, NULL, failing_execs, NULL) != 0) { perror("pthread_create"); return 1; }
  for (int i = 1; i <= n; i++) {
    int k = i % 100 + 1, status;
    pid_t pid = start_child(i, k);
    if (pid < 0) { printf("FAIL %d fork: %s\n", i, strerror(errno)); return 1; }
    if (waitpid(pid, &status, 0) != pid) { printf("FAIL %d waitpid: %s\n", i, strerror(errno)); return 1; }
    fails += check(i, "exec", status, k);
    if (i % 4 == 0) {
      char code[16];
      snprintf(code, sizeof code, "%d", k);
      char *sargv[] = { "exec_storm", "exit", code, NULL };
      if (posix_spawn(&pid, self, NULL, NULL, sargv, environ) != 0 || waitpid(pid, &status, 0) != pid)
        printf("FAIL %d posix_spawn: %s\n", i, strerror(errno)), fails++;
      else fails += check(i, "posix_spawn", status, k);
      char cmd[4200];
      snprintf(cmd, sizeof cmd, "'%s' exit %d", self, k);
      fails += check(i, "system", system(cmd), k);
    }
    if (i % 50 == 0) printf("iter %d\n", i);
  }
  printf("done %d fails=%d\n", n, fails);
  return fails != 0;
}
