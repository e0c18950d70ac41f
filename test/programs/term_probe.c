/* What a program sees of SIGTERM it sends itself under the SIGTERM hold
 * (STASIS_HOLD_TERM): its disposition reads as it set it, and SIGTERM from
 * a process of the job acts at once — its own handler runs, SIG_IGN (also
 * in a child it runs, across exec) ignores, the default kills. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static volatile sig_atomic_t got;
static void own(int sig) { got = sig; }

static const char *reads(void) {
  struct sigaction old;
  memset(&old, 0, sizeof old);
  sigaction(SIGTERM, NULL, &old);
  return old.sa_handler == SIG_DFL ? "SIG_DFL" : old.sa_handler == SIG_IGN ? "SIG_IGN" : old.sa_handler == own ? "own handler" : "something else";
}

int main(void) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  printf("SIGTERM reads %s\n", reads());
  signal(SIGTERM, own);
  printf("SIGTERM reads %s\n", reads());
  raise(SIGTERM);
  printf("own handler %s\n", got == SIGTERM ? "ran at once" : "did not run");
  signal(SIGTERM, SIG_IGN);
  printf("SIGTERM reads %s\n", reads());
  raise(SIGTERM);
  printf("survived SIGTERM ignored\n");
  int rc = system("kill -TERM $$; echo child survived SIGTERM ignored");
  printf("child status %d\n", rc);
  signal(SIGTERM, SIG_DFL);
  printf("SIGTERM reads %s\n", reads());
  raise(SIGTERM);
  printf("survived the default\n");
  return 0;
}
