/* The local end of test/ssh/relay.test.ts: runs COMMAND (ssh HOST
 * relay_worker) with pipes for its stdin and stdout, sends ROUNDS rounds
 * of data, one every 100 ms, and prints each answer; then closes the
 * command's stdin, prints what else it says and how it exited.
 *   relay_driver ROUNDS BYTES COMMAND ARGS... */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv) {
  if (argc < 4) { fprintf(stderr, "usage: relay_driver ROUNDS BYTES COMMAND ARGS...\n"); return 2; }
  int rounds = atoi(argv[1]);
  size_t bytes = (size_t)atol(argv[2]);
  int in[2], out[2];
  if (pipe(in) || pipe(out)) { perror("pipe"); return 1; }
  pid_t pid = fork();
  if (pid == 0) {
    dup2(in[0], 0);
    dup2(out[1], 1);
    close(in[0]); close(in[1]); close(out[0]); close(out[1]);
    execvp(argv[3], argv + 3);
    perror(argv[3]);
    _exit(127);
  }
  close(in[0]);
  close(out[1]);
  FILE *to = fdopen(in[1], "w"), *from = fdopen(out[0], "r");
  char *block = malloc(bytes), line[256];
  unsigned state = 12345;
  for (int r = 1; r <= rounds; r++) {
    for (size_t i = 0; i < bytes; i++) { state = state * 1103515245u + 12345u; block[i] = (char)(state >> 16); }
    fprintf(to, "ROUND %d %zu\n", r, bytes);
    fwrite(block, 1, bytes, to);
    fflush(to);
    if (!fgets(line, sizeof line, from)) { printf("BROKEN no answer to round %d\n", r); return 1; }
    printf("%s", line);
    fflush(stdout);
    struct timespec tick = { 0, 100 * 1000 * 1000 };
    nanosleep(&tick, NULL);
  }
  fclose(to);
  while (fgets(line, sizeof line, from)) printf("%s", line);
  int status;
  waitpid(pid, &status, 0);
  printf("command exit %d\n", WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
  return 0;
}
