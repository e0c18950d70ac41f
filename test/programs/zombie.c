/* Children not waited for across checkpoints. Forks two children: one
 * exits with status 7, one is killed by SIGTERM; waits (WNOWAIT) until
 * both are zombies and prints "zombies A B" (their pids). Then every
 * 100 ms, tick N: checks that both are still zombies with their status
 * (waitid WNOHANG|WNOWAIT) and prints "tick N", or "BROKEN ...". Once the
 * file argv[1] exists it reaps them (waitpid), prints "reaped PID exited S"
 * or "reaped PID killed SIG" for each, checks that nothing else is left to
 * wait for (ECHILD) and exits 0. */
#include <errno.h>
#include <signal.h>
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

/* 1 when `pid` is a zombie that exited that way (CLD_EXITED or CLD_KILLED). */
static int is_zombie(pid_t pid, int code, int status) {
  siginfo_t si;
  memset(&si, 0, sizeof si);
  return waitid(P_PID, pid, &si, WEXITED | WNOHANG | WNOWAIT) == 0 && si.si_pid == pid && si.si_code == code &&
         si.si_status == status;
}

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  if (argc < 2) { fprintf(stderr, "usage: zombie TRIGGER-FILE\n"); return 2; }
  pid_t a = fork();
  if (a == 0) _exit(7);
  pid_t b = fork();
  if (b == 0) { raise(SIGTERM); _exit(1); }
  if (a < 0 || b < 0) { perror("fork"); return 1; }
  for (int i = 0; !(is_zombie(a, CLD_EXITED, 7) && is_zombie(b, CLD_KILLED, SIGTERM)); i++) {
    if (i > 500) { printf("BROKEN children did not end\n"); return 1; }
    nap(10);
  }
  printf("zombies %d %d\n", (int)a, (int)b);
  for (long n = 1; access(argv[1], F_OK) != 0; n++) {
    if (!is_zombie(a, CLD_EXITED, 7) || !is_zombie(b, CLD_KILLED, SIGTERM)) {
      printf("BROKEN tick %ld: the children are no longer zombies with their status\n", n);
      return 1;
    }
    printf("tick %ld\n", n);
    nap(100);
  }
  pid_t kids[2] = { a, b };
  for (int i = 0; i < 2; i++) {
    int st;
    pid_t got = waitpid(kids[i], &st, 0);
    if (got != kids[i]) { printf("BROKEN waitpid(%d) gave %d: %s\n", (int)kids[i], (int)got, strerror(errno)); return 1; }
    if (WIFEXITED(st)) printf("reaped %d exited %d\n", (int)got, WEXITSTATUS(st));
    else if (WIFSIGNALED(st)) printf("reaped %d killed %d\n", (int)got, WTERMSIG(st));
  }
  if (wait(NULL) != -1 || errno != ECHILD) { printf("BROKEN another child to wait for\n"); return 1; }
  return 0;
}
