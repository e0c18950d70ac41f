/* A program that leaves SIGTERM at its default (argv[1] "dfl") or has its
 * own handler that quits ("own"; as mpirun's aborts its job): prints
 * "ready", then "tick N" every 50 ms up to the count in argv[2] and "done".
 * The handler says "own handler ran" and exits 3. The test sends SIGTERM
 * from outside the job, as a scheduler does. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static void quit(int sig) {
  (void)sig;
  static const char msg[] = "own handler ran\n";
  (void)!write(1, msg, sizeof msg - 1);
  _exit(3);
}

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  if (argc > 1 && strcmp(argv[1], "own") == 0) signal(SIGTERM, quit);
  int n = argc > 2 ? atoi(argv[2]) : 200;
  printf("ready\n");
  for (int i = 1; i <= n; i++) {
    printf("tick %d\n", i);
    nanosleep(&(struct timespec){ 0, 50 * 1000000 }, NULL);
  }
  printf("done\n");
  return 0;
}
