/* A driver that forks `sh -c 'printf ...; exit N'` into a pipe, reads all
 * it wrote, waits for it, and checks that output and exit status belong
 * together: round K's child writes "rK:" and 60 bytes of K, exits with
 * K % 100 + 1. Prints "round K" after each good round; "BROKEN ..." when
 * the bytes or the status are wrong (a checkpoint that holds the exit of
 * a child but not what it wrote).
 *   exit_output [ROUNDS]   (default: forever) */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  long rounds = argc > 1 ? atol(argv[1]) : 0;
  for (long k = 1; !rounds || k <= rounds; k++) {
    char script[256], want[128], got[4096];
    char fill[61];
    memset(fill, 'a' + (int)(k % 26), 60);
    fill[60] = 0;
    snprintf(want, sizeof want, "r%ld:%s\n", k, fill);
    snprintf(script, sizeof script, "printf 'r%ld:%s\\n'; exit %ld", k, fill, k % 100 + 1);
    int p[2];
    if (pipe(p) < 0) { perror("pipe"); return 1; }
    pid_t pid = fork();
    if (pid < 0) { perror("fork"); return 1; }
    if (pid == 0) {
      close(p[0]);
      dup2(p[1], 1);
      close(p[1]);
      execl("/bin/sh", "sh", "-c", script, (char *)NULL);
      _exit(127);
    }
    close(p[1]);
    size_t len = 0;
    for (;;) {
      ssize_t r = read(p[0], got + len, sizeof got - 1 - len);
      if (r < 0 && errno == EINTR) continue;
      if (r <= 0) break;
      len += r;
    }
    got[len] = 0;
    close(p[0]);
    int st;
    pid_t w;
    while ((w = waitpid(pid, &st, 0)) < 0 && errno == EINTR) {}
    int code = w == pid && WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    if (strcmp(got, want) != 0 || code != k % 100 + 1)
      printf("BROKEN round %ld: status %d (want %ld), %zu bytes '%.20s' (want %zu)\n", k, code, k % 100 + 1, len, got,
             strlen(want));
    else
      printf("round %ld\n", k);
  }
  printf("done\n");
  return 0;
}
