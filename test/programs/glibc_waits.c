/* Waits that glibc makes itself, across a restart. `glibc_waits TRIGGER`
 * forks one worker per kind; each starts a child that exits (with its own
 * status) once the file TRIGGER exists, and then waits for it the way the
 * kind says:
 *   system        system("exec SELF child TRIGGER 3"), blocked in glibc's wait,
 *                 interrupted by SIGALRM every 200 ms
 *   popen-read    popen(... prints "hi", exits 5), blocked reading; pclose later
 *   popen-close   popen(... exits 6), blocked in pclose's wait
 *   wait3         fork twice, blocked in wait3 (exits 7 and 9), then wait3 again
 *   sigchld       fork, SIGCHLD handler's si_pid and waitid's si_pid (exit 8)
 *   raw           two children leading groups of their own (exits 10, 11);
 *                 threads blocked in raw syscall(SYS_wait4, -group) and
 *                 syscall(SYS_waitid, P_PGID, group)
 * Each worker prints "waiting KIND" before it blocks and "ok KIND ..." or
 * "BROKEN KIND ..." after; the main process prints "done" when all are. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static const char *self, *trigger;

static void nap(long ms) {
  struct timespec ts = { 0, ms * 1000000 };
  while (nanosleep(&ts, &ts) == -1 && errno == EINTR) {}
}

static void wait_trigger(void) {
  while (access(trigger, F_OK) != 0) nap(20);
}

static int check(const char *kind, int good, const char *fmt, long a, long b) {
  printf("%s %s ", good ? "ok" : "BROKEN", kind);
  printf(fmt, a, b);
  printf(" (errno %s)\n", strerror(errno));
  return good ? 0 : 1;
}

static volatile int alarms;
static void on_alarm(int sig) { (void)sig; alarms++; }

/* A timer's signal interrupts the wait every 200 ms (no SA_RESTART): glibc
 * retries it with the pid it has, before and after the restart. */
static int by_system(void) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_alarm;
  sigaction(SIGALRM, &sa, NULL);
  struct itimerval every = { { 0, 200000 }, { 0, 200000 } };
  setitimer(ITIMER_REAL, &every, NULL);
  char cmd[1024];
  snprintf(cmd, sizeof cmd, "exec '%s' child '%s' 3", self, trigger);
  printf("waiting system\n");
  int st = system(cmd);
  return check("system", st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 3, "status %#lx%.0ld", st, 0);
}

static int by_popen(int read_first) {
  const char *kind = read_first ? "popen-read" : "popen-close";
  char cmd[1024], line[64] = "";
  snprintf(cmd, sizeof cmd, "exec '%s' child '%s' %d %s", self, trigger, read_first ? 5 : 6, read_first ? "hi" : "");
  FILE *f = popen(cmd, "r");
  if (!f) return check(kind, 0, "popen failed%.0ld%.0ld", 0, 0);
  printf("waiting %s\n", kind);
  if (read_first && !fgets(line, sizeof line, f)) return check(kind, 0, "no line%.0ld%.0ld", 0, 0);
  int st = pclose(f);
  int want = read_first ? 5 : 6;
  int good = st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == want && (!read_first || strcmp(line, "hi\n") == 0);
  return check(kind, good, "status %#lx%.0ld", st, 0);
}

static pid_t child(int code) {
  pid_t pid = fork();
  if (pid == 0) {
    wait_trigger();
    _exit(code);
  }
  return pid;
}

/* Two children: the first wait3 is blocked at the checkpoint, the second
 * is made after the restart. */
static int by_wait3(void) {
  pid_t kids[2] = { child(7), child(9) };
  int bad = 0;
  printf("waiting wait3\n");
  for (int i = 0; i < 2; i++) {
    int st = 0;
    struct rusage ru;
    pid_t got = wait3(&st, 0, &ru);
    int which = got == kids[0] ? 0 : got == kids[1] ? 1 : -1;
    int good = which >= 0 && WIFEXITED(st) && WEXITSTATUS(st) == (which ? 9 : 7);
    bad |= check("wait3", good, "pid %ld (status %#lx)", got, st);
    if (which >= 0) kids[which] = 0;
  }
  return bad;
}

static volatile pid_t sigchld_from;

static void on_chld(int sig, siginfo_t *si, void *uc) {
  (void)sig; (void)uc;
  sigchld_from = si->si_pid;
}

static int by_sigchld(void) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = on_chld;
  sa.sa_flags = SA_SIGINFO | SA_RESTART;
  sigaction(SIGCHLD, &sa, NULL);
  sigset_t chld, old;
  sigemptyset(&chld);
  sigaddset(&chld, SIGCHLD);
  sigprocmask(SIG_BLOCK, &chld, &old);
  pid_t pid = child(8);
  printf("waiting sigchld\n");
  while (!sigchld_from) sigsuspend(&old);
  siginfo_t si;
  memset(&si, 0, sizeof si);
  int rc = waitid(P_PID, (id_t)pid, &si, WEXITED);
  int bad = check("sigchld", sigchld_from == pid, "handler si_pid %ld (child %ld)", sigchld_from, pid);
  return bad | check("sigchld-waitid", rc == 0 && si.si_pid == pid && si.si_status == 8, "si_pid %ld (child %ld)", si.si_pid, pid);
}

static pid_t group_child(int code) {
  pid_t pid = fork();
  if (pid == 0) {
    setpgid(0, 0);
    wait_trigger();
    _exit(code);
  }
  setpgid(pid, pid);
  return pid;
}

static pid_t raw_kids[2];
static int raw_bad[2];

static void *raw_wait4(void *arg) {
  (void)arg;
  int st = 0;
  long got = syscall(SYS_wait4, -raw_kids[0], &st, 0, NULL);
  raw_bad[0] = check("raw-wait4", got == raw_kids[0] && WIFEXITED(st) && WEXITSTATUS(st) == 10, "pid %ld (status %#lx)", got, st);
  return NULL;
}

static void *raw_waitid(void *arg) {
  (void)arg;
  siginfo_t si;
  memset(&si, 0, sizeof si);
  long rc = syscall(SYS_waitid, P_PGID, raw_kids[1], &si, WEXITED, NULL);
  raw_bad[1] = check("raw-waitid", rc == 0 && si.si_pid == raw_kids[1] && si.si_status == 11, "si_pid %ld (rc %ld)", si.si_pid, rc);
  return NULL;
}

static int by_raw_syscall(void) {
  raw_kids[0] = group_child(10);
  raw_kids[1] = group_child(11);
  pthread_t t[2];
  pthread_create(&t[0], NULL, raw_wait4, NULL);
  pthread_create(&t[1], NULL, raw_waitid, NULL);
  printf("waiting raw\n");
  for (int i = 0; i < 2; i++) pthread_join(t[i], NULL);
  return raw_bad[0] | raw_bad[1];
}

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  self = argv[0];
  if (argc >= 4 && strcmp(argv[1], "child") == 0) {   /* child TRIGGER CODE [LINE] */
    trigger = argv[2];
    wait_trigger();
    if (argc > 4 && argv[4][0]) printf("%s\n", argv[4]);
    return atoi(argv[3]);
  }
  if (argc < 2) return 2;
  trigger = argv[1];
  int (*kinds[])(void) = { by_system, NULL, NULL, by_wait3, by_sigchld, by_raw_syscall };
  enum { N = sizeof kinds / sizeof kinds[0] };
  pid_t workers[N];
  for (int i = 0; i < N; i++) {
    workers[i] = fork();
    if (workers[i] == 0) _exit(i == 1 || i == 2 ? by_popen(i == 1) : kinds[i]());
  }
  int failed = 0;
  for (int i = 0; i < N; i++) {
    int st = 0;
    if (waitpid(workers[i], &st, 0) != workers[i] || !WIFEXITED(st) || WEXITSTATUS(st) != 0) failed = 1;
  }
  if (failed) return 1;
  printf("done\n");
  return 0;
}
