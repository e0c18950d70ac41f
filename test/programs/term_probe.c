/* What a program sees of SIGTERM: whether its disposition reads as the
 * default, whether a SIGTERM to itself kills it, and whether a handler of
 * its own then runs (at once, or only later: held). */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t got;
static void own(int sig) { got = sig; }

int main(void) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  struct sigaction old;
  memset(&old, 0, sizeof old);
  sigaction(SIGTERM, NULL, &old);
  printf("SIGTERM reads %s\n", old.sa_handler == SIG_DFL ? "SIG_DFL" : "a handler");
  raise(SIGTERM);
  printf("survived SIGTERM\n");
  signal(SIGTERM, own);
  sigaction(SIGTERM, NULL, &old);
  printf("SIGTERM reads %s\n", old.sa_handler == own ? "own handler" : "something else");
  raise(SIGTERM);
  if (!got) printf("own handler held\n");
  for (int i = 0; i < 200 && !got; i++) nanosleep(&(struct timespec){ 0, 50 * 1000000 }, NULL);
  printf("own handler %s\n", got == SIGTERM ? "ran" : "did not run");
  signal(SIGTERM, SIG_DFL);
  sigaction(SIGTERM, NULL, &old);
  printf("SIGTERM reads %s again\n", old.sa_handler == SIG_DFL ? "SIG_DFL" : "a handler");
  raise(SIGTERM);
  printf("survived the default\n");
  return 0;
}
