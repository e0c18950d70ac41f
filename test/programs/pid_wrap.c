/* New children after a restart whose kernel pid collides with an id the
 * program already knows. Keeps a worker thread and an unreaped child (a
 * zombie), prints "ready pid=P tid=T zombie=Z", then "tick N" every 100 ms
 * until the file argv[1] exists. Then (root only, else "skip ...") it finds
 * the kernel pid the zombie has now (/proc, untranslated), reaps the
 * zombie, and for each such id — the zombie's old kernel pid (now free),
 * its own pid as it knows it, its worker's tid as it knows it — sets
 * /proc/sys/kernel/ns_last_pid so the next child would get exactly that
 * id, forks, and checks that the child's kernel pid is not that id, that
 * the child sees the pid fork() returned, that kill() reaches the child and
 * that waitpid() returns it. Prints "wrapped ID child=C" each time, "done"
 * at the end, or "BROKEN ...". */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static volatile pid_t worker_tid;
static volatile sig_atomic_t parent_hit;

static void on_term(int sig) { (void)sig; parent_hit = 1; }

static void nap(long ms) {
  struct timespec ts = { ms / 1000, ms % 1000 * 1000000 };
  while (nanosleep(&ts, &ts) == -1 && errno == EINTR) {}
}

static void *worker(void *arg) {
  (void)arg;
  worker_tid = gettid();
  for (;;) nap(1000);
  return NULL;
}

/* The kernel pids of this process's children (its main thread's). */
static int kernel_children(long *out, int cap) {
  char path[64], buf[4096];
  long me = syscall(SYS_getpid);
  snprintf(path, sizeof path, "/proc/%ld/task/%ld/children", me, me);
  int fd = open(path, O_RDONLY), n = 0;
  if (fd < 0) return -1;
  ssize_t len = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (len < 0) return -1;
  buf[len] = 0;
  for (char *p = buf, *end; n < cap; p = end) {
    long v = strtol(p, &end, 10);
    if (end == p) break;
    out[n++] = v;
  }
  return n;
}

static int set_next_pid(pid_t want) {
  int fd = open("/proc/sys/kernel/ns_last_pid", O_WRONLY);
  if (fd < 0) return -1;
  char num[32];
  int len = snprintf(num, sizeof num, "%d", (int)want - 1);
  int rc = write(fd, num, (size_t)len) == len ? 0 : -1;
  close(fd);
  return rc;
}

/* One child forked right after asking for kernel pid `target`. */
static int fork_at(pid_t target, pid_t self) {
  int report[2], hold[2];
  if (pipe(report) < 0 || pipe(hold) < 0) { printf("BROKEN pipe: %m\n"); return -1; }
  if (set_next_pid(target) < 0) { printf("BROKEN ns_last_pid: %m\n"); return -1; }
  pid_t child = fork();
  if (child < 0) { printf("BROKEN fork: %m\n"); return -1; }
  if (child == 0) {
    close(hold[1]);   /* read() ends when the parent is gone */
    signal(SIGTERM, SIG_DFL);
    pid_t ids[2] = { getpid(), getppid() };
    if (write(report[1], ids, sizeof ids) != sizeof ids) _exit(1);
    char c;
    ssize_t got = read(hold[0], &c, 1);   /* until killed */
    (void)got;
    _exit(2);
  }
  close(report[1]);
  close(hold[0]);
  pid_t ids[2] = { 0, 0 };
  if (read(report[0], ids, sizeof ids) != sizeof ids) { printf("BROKEN child %d did not report\n", child); return -1; }
  long kids[16];
  int n = kernel_children(kids, 16);
  for (int i = 0; i < n; i++)
    if (kids[i] == target) { printf("BROKEN child %d has the ambiguous kernel pid %d\n", child, target); return -1; }
  if (ids[0] != child || ids[1] != self) { printf("BROKEN child says pid %d ppid %d, fork said %d, parent %d\n", ids[0], ids[1], child, self); return -1; }
  if (kill(child, SIGTERM) != 0) { printf("BROKEN kill(%d): %m\n", child); return -1; }
  int status = 0;
  pid_t got = waitpid(child, &status, 0);
  if (got != child || !WIFSIGNALED(status) || WTERMSIG(status) != SIGTERM) {
    printf("BROKEN waitpid(%d) = %d status %#x: %m\n", child, got, status);
    return -1;
  }
  if (parent_hit) { printf("BROKEN kill(%d) reached the parent\n", child); return -1; }
  close(report[0]);
  close(hold[1]);
  printf("wrapped %d child=%d\n", target, child);
  return 0;
}

int main(int argc, char **argv) {
  if (argc < 2) return 2;
  setvbuf(stdout, NULL, _IOLBF, 0);
  signal(SIGTERM, on_term);
  pthread_t t;
  pthread_create(&t, NULL, worker, NULL);
  while (!worker_tid) nap(1);
  const pid_t self = getpid(), tid = worker_tid;
  pid_t zombie = fork();
  if (zombie == 0) _exit(5);
  siginfo_t si;
  while (waitid(P_PID, zombie, &si, WEXITED | WNOWAIT) < 0 && errno == EINTR) {}
  printf("ready pid=%d tid=%d zombie=%d\n", self, tid, zombie);
  for (long n = 1; access(argv[1], F_OK) != 0; n++) {
    printf("tick %ld\n", n);
    nap(100);
  }
  if (geteuid() != 0 || access("/proc/sys/kernel/ns_last_pid", W_OK) != 0) {
    printf("skip: cannot choose the next pid (needs root and /proc/sys/kernel/ns_last_pid)\n");
    return 0;
  }
  long kids[16];
  if (kernel_children(kids, 16) != 1) { printf("BROKEN expected one child (the zombie)\n"); return 1; }
  const pid_t stale = (pid_t)kids[0];
  int status = 0;
  if (waitpid(zombie, &status, 0) != zombie || !WIFEXITED(status) || WEXITSTATUS(status) != 5) {
    printf("BROKEN reaping zombie %d: %m\n", zombie);
    return 1;
  }
  printf("zombie kernel pid %d\n", stale);
  const pid_t targets[] = { stale, self, tid };
  for (unsigned i = 0; i < sizeof targets / sizeof *targets; i++)
    for (int round = 0; round < 3; round++)
      if (fork_at(targets[i], self) < 0) return 1;
  printf("done\n");
  return 0;
}
