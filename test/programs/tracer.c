/* A minimal tracer, run outside the job: attaches to PID with ptrace
 * (PTRACE_SEIZE), prints "tracing PID", and lets every signal through
 * until the tracee ends or the tracer is killed (which detaches it).
 *   tracer PID */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ptrace.h>
#include <sys/wait.h>

int main(int argc, char **argv) {
  if (argc < 2) { fprintf(stderr, "usage: tracer PID\n"); return 2; }
  setvbuf(stdout, NULL, _IOLBF, 0);
  pid_t pid = (pid_t)atol(argv[1]);
  if (ptrace(PTRACE_SEIZE, pid, 0, 0) < 0) { perror("tracer: PTRACE_SEIZE"); return 1; }
  printf("tracing %d\n", (int)pid);
  for (;;) {
    int st;
    pid_t w = waitpid(pid, &st, __WALL);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0 || WIFEXITED(st) || WIFSIGNALED(st)) return 0;
    int sig = WIFSTOPPED(st) && (st >> 16) == 0 ? WSTOPSIG(st) : 0;   /* a signal to pass on, not an event stop */
    ptrace(PTRACE_CONT, pid, 0, (void *)(long)sig);
  }
}
