/* Holds a descriptor stasis cannot save yet, and keeps counting:
 *   unsupported pipe      the read end of a pipe whose write end is held by
 *                         a process outside the job (a plain `sleep`)
 *   unsupported io_uring  an io_uring instance
 *   unsupported none      nothing (the test traces it from outside)
 * A checkpoint must fail naming the descriptor; "tick N" goes on. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include <linux/io_uring.h>

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  const char *mode = argc > 1 ? argv[1] : "pipe";
  if (strcmp(mode, "pipe") == 0) {
    int p[2];
    if (pipe(p) < 0) { perror("pipe"); return 1; }
    pid_t child = fork();
    if (child == 0) {
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      close(p[0]);
      char *env[] = { NULL };
      execle("/bin/sleep", "sleep", "1000", (char *)NULL, env);
      _exit(127);
    }
    close(p[1]);
    printf("holding fd %d, a pipe to process %d\n", p[0], (int)child);
  } else if (strcmp(mode, "io_uring") == 0) {
    struct io_uring_params params;
    memset(&params, 0, sizeof params);
    long fd = syscall(SYS_io_uring_setup, 4, &params);
    if (fd < 0) { printf("no io_uring: %s\n", strerror(errno)); return 2; }
    printf("holding fd %ld, an io_uring\n", fd);
  }
  for (long tick = 0;; tick++) {
    printf("tick %ld\n", tick);
    struct timespec ts = { 0, 100000000 };
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR) {}
  }
}
