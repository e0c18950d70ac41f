/* Prints "tick N" every 100 ms; when the file GO appears, removes it,
 * prints "exec'ing at N" and execs itself, the new image slow to join its
 * coordinator (STASIS_FAULT=join-slow:SECONDS in its environment only),
 * which prints "exec'd at N" and counts on from N.
 *   exec_later GO [SECONDS [N]] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

extern char **environ;

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  if (argc < 2) { fprintf(stderr, "usage: exec_later GO [SECONDS [N]]\n"); return 2; }
  const char *seconds = argc > 2 ? argv[2] : "3";
  long n = argc > 3 ? atol(argv[3]) : 0;
  if (argc > 3) printf("exec'd at %ld\n", n);
  for (;; n++) {
    printf("tick %ld\n", n);
    usleep(100000);
    if (access(argv[1], F_OK) != 0) continue;
    unlink(argv[1]);
    char self[4096], at[32], fault[64];
    ssize_t len = readlink("/proc/self/exe", self, sizeof self - 1);
    if (len <= 0) { perror("readlink"); return 1; }
    self[len] = 0;
    snprintf(at, sizeof at, "%ld", n + 1);
    snprintf(fault, sizeof fault, "STASIS_FAULT=join-slow:%s", seconds);
    int count = 0;
    while (environ[count]) count++;
    char **env = calloc((size_t)count + 2, sizeof *env);
    for (int i = 0; i < count; i++) env[i] = environ[i];
    env[count] = fault;
    char *args[] = { argv[0], argv[1], (char *)seconds, at, NULL };
    printf("exec'ing at %ld\n", n + 1);
    execve(self, args, env);
    perror("execve");
    return 1;
  }
}
