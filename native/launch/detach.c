/* stasis-detach: starts a program in a new session, not as our child, and
 * prints its pid. `stasis launch` and `restart` start their private
 * coordinator through it: the launcher then becomes the user's program,
 * which must not find the coordinator among its children (a program that
 * waits for all its children would wait for it, and it for the program). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: stasis-detach program [args...]\n");
    return 2;
  }
  pid_t pid = fork();
  if (pid < 0) { perror("stasis-detach: fork"); return 1; }
  if (pid == 0) {
    /* Our stdout carries the pid to whoever waits for it to close. */
    int null = open("/dev/null", O_WRONLY);
    if (null >= 0) { dup2(null, 1); close(null); }
    setsid();
    execvp(argv[1], &argv[1]);
    fprintf(stderr, "stasis-detach: cannot run %s: %s\n", argv[1], strerror(errno));
    _exit(127);
  }
  printf("%d\n", (int)pid);
  return 0;
}
