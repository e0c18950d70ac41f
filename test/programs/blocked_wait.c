/* Threads blocked in the kernel waiting for one particular child when a
 * checkpoint comes. Forks three children that exit (41, 42, 43) once the
 * file argv[1] exists; the third leads a process group of its own. One
 * thread waits in waitpid(first), one in waitid(P_PID, second), one in
 * waitpid(-group of the third). Prints "children A B C" and "waiting KIND"
 * before each call, "reaped KIND PID STATUS" after, or "BROKEN KIND ...";
 * "done" when all three are reaped. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static const char *trigger;
static pid_t kids[3];
static volatile int failed;

static void nap(long ms) {
  struct timespec ts = { 0, ms * 1000000 };
  while (nanosleep(&ts, &ts) == -1 && errno == EINTR) {}
}

static pid_t spawn(int code, int own_group) {
  pid_t pid = fork();
  if (pid == 0) {
    if (own_group) setpgid(0, 0);
    while (access(trigger, F_OK) != 0) nap(20);
    _exit(code);
  }
  if (own_group) setpgid(pid, pid);
  return pid;
}

static void reaped(const char *kind, pid_t want, pid_t got, int code) {
  if (got != want || code != 41 + (int)(kind[0] - 'a')) {
    printf("BROKEN %s: got %d (want %d) code %d: %s\n", kind, got, want, code, strerror(errno));
    failed = 1;
  } else {
    printf("reaped %s %d %d\n", kind, got, code);
  }
}

static void *wait_pid(void *arg) {
  (void)arg;
  int status = 0;
  printf("waiting a-waitpid\n");
  pid_t got = waitpid(kids[0], &status, 0);
  reaped("a-waitpid", kids[0], got, WIFEXITED(status) ? WEXITSTATUS(status) : -1);
  return NULL;
}

static void *wait_id(void *arg) {
  (void)arg;
  siginfo_t si;
  memset(&si, 0, sizeof si);
  printf("waiting b-waitid\n");
  int rc = waitid(P_PID, (id_t)kids[1], &si, WEXITED);
  reaped("b-waitid", kids[1], rc == 0 ? si.si_pid : -1, si.si_code == CLD_EXITED ? si.si_status : -1);
  return NULL;
}

static void *wait_group(void *arg) {
  (void)arg;
  int status = 0;
  printf("waiting c-waitpid-group\n");
  pid_t got = waitpid(-kids[2], &status, 0);
  reaped("c-waitpid-group", kids[2], got, WIFEXITED(status) ? WEXITSTATUS(status) : -1);
  return NULL;
}

int main(int argc, char **argv) {
  if (argc < 2) return 2;
  setvbuf(stdout, NULL, _IOLBF, 0);
  trigger = argv[1];
  for (int i = 0; i < 3; i++) kids[i] = spawn(41 + i, i == 2);
  printf("children %d %d %d\n", kids[0], kids[1], kids[2]);
  void *(*fns[3])(void *) = { wait_pid, wait_id, wait_group };
  pthread_t t[3];
  for (int i = 0; i < 3; i++) pthread_create(&t[i], NULL, fns[i], NULL);
  for (int i = 0; i < 3; i++) pthread_join(t[i], NULL);
  if (failed) return 1;
  printf("done\n");
  return 0;
}
