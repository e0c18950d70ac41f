/* A program with its own SIGTERM handler that quits (as mpirun's aborts its
 * job): prints "tick N" every 50 ms up to the count in argv[1] and "done";
 * at tick 10 it sends itself SIGTERM (as a scheduler ending the job would)
 * and says so. Its handler says "own handler ran" and exits 3. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
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
  int n = argc > 1 ? atoi(argv[1]) : 200;
  signal(SIGTERM, quit);
  for (int i = 1; i <= n; i++) {
    printf("tick %d\n", i);
    if (i == 10) { kill(getpid(), SIGTERM); printf("sent SIGTERM\n"); }
    nanosleep(&(struct timespec){ 0, 50 * 1000000 }, NULL);
  }
  printf("done\n");
  return 0;
}
