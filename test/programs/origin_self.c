/* Signals itself by its own pid every tick and checks the signal arrived.
 * After a restart its pid is virtual: kill(getpid()) must reach this
 * process, not another one the job knows by the same virtual pid on
 * another origin host. Prints "TAG pid=P tick=N", then "TAG done".
 * With EXEC_AT it execs itself at that tick; the new image forks a child
 * (which waits for its parent to end it) and says "TAG child=PID". */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static volatile sig_atomic_t got;
static void on_usr1(int sig) { (void)sig; got++; }

int main(int argc, char **argv) {
  if (argc < 3) { fprintf(stderr, "usage: origin_self TICKS TAG [EXEC_AT [START]]\n"); return 2; }
  int ticks = atoi(argv[1]);
  const char *tag = argv[2];
  int exec_at = argc > 3 ? atoi(argv[3]) : 0, start = argc > 4 ? atoi(argv[4]) : 1;
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_usr1;
  sa.sa_flags = SA_RESTART;
  sigaction(SIGUSR1, &sa, NULL);
  pid_t child = 0;
  if (start > 1) {
    child = fork();
    if (child == 0) { for (;;) pause(); }
    printf("%s child=%d\n", tag, child);
  }
  for (int i = start; i <= ticks; i++) {
    if (i == exec_at && start == 1) {
      char next[16];
      snprintf(next, sizeof next, "%d", i);
      fflush(stdout);
      execl(argv[0], argv[0],   /* not /proc/self/exe: the loader's after a restart */
            argv[1], argv[2], argv[3], next, (char *)NULL);
      printf("BROKEN %s: exec failed\n", tag);
    }
    int before = got;
    kill(getpid(), SIGUSR1);   /* unblocked, to itself: delivered before kill returns */
    if (got != before + 1) printf("BROKEN %s: kill(getpid()=%d) reached %d signal(s) here, not 1\n", tag, getpid(), got - before);
    printf("%s pid=%d tick=%d\n", tag, getpid(), i);
    fflush(stdout);
    usleep(100000);
  }
  if (child > 0) {
    int st;
    kill(child, SIGTERM);
    if (waitpid(child, &st, 0) != child || !WIFSIGNALED(st)) printf("BROKEN %s: child %d not ended by SIGTERM\n", tag, child);
  }
  printf("%s done\n", tag);
  return 0;
}
