/* A process outside the job for tests that share a descriptor with one
 * (pty.c, unsupported.c). Include after the system headers it uses:
 * unistd.h, fcntl.h, stdio.h, stdlib.h, sys/syscall.h, sys/wait.h. */
#ifndef OUTSIDER_H
#define OUTSIDER_H

/* `sleep 120` started without libstasis, never in the job, and not our
 * child (a double fork: an outsider that only shares a descriptor with the
 * job — a child of the job that never joined, or one that joined and then
 * exec'd without libstasis, would fail the checkpoint for that reason
 * first). It keeps every descriptor we pass on.
 * Returns its pid; the test ends it. */
static pid_t start_outsider(void) {
  int report[2];
  if (pipe(report) < 0) { perror("pipe"); exit(1); }
  pid_t middle = fork();
  if (middle == 0) {
    close(report[0]);
    pid_t pid = (pid_t)syscall(SYS_fork);   /* not libstasis's fork(): it never joins */
    if (pid == 0) {
      close(report[1]);
      int null = open("/dev/null", O_RDWR);   /* not the job's stdio: the test waits for that to close */
      for (int fd = 0; fd < 3; fd++) dup2(null, fd);
      char *env[] = { NULL };
      execle("/bin/sleep", "sleep", "120", (char *)NULL, env);
      _exit(127);
    }
    ssize_t w = write(report[1], &pid, sizeof pid);
    _exit(w == sizeof pid ? 0 : 1);
  }
  close(report[1]);
  pid_t pid = -1;
  if (read(report[0], &pid, sizeof pid) != sizeof pid) { perror("outsider"); exit(1); }
  close(report[0]);
  waitpid(middle, NULL, 0);
  return pid;
}

#endif
