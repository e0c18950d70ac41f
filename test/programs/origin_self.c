/* Signals itself by its own pid every tick and checks the signal arrived.
 * After a restart its pid is virtual: kill(getpid()) must reach this
 * process, not another one the job knows by the same virtual pid on
 * another origin host. Prints "TAG pid=P tick=N", then "TAG done". */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static volatile sig_atomic_t got;
static void on_usr1(int sig) { (void)sig; got++; }

int main(int argc, char **argv) {
  if (argc < 3) { fprintf(stderr, "usage: origin_self TICKS TAG\n"); return 2; }
  int ticks = atoi(argv[1]);
  const char *tag = argv[2];
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_usr1;
  sa.sa_flags = SA_RESTART;
  sigaction(SIGUSR1, &sa, NULL);
  for (int i = 1; i <= ticks; i++) {
    int before = got;
    kill(getpid(), SIGUSR1);   /* unblocked, to itself: delivered before kill returns */
    if (got != before + 1) printf("BROKEN %s: kill(getpid()=%d) reached %d signal(s) here, not 1\n", tag, getpid(), got - before);
    printf("%s pid=%d tick=%d\n", tag, getpid(), i);
    fflush(stdout);
    usleep(100000);
  }
  printf("%s done\n", tag);
  return 0;
}
