/* Descriptors a launcher must hand on untouched.
 *   fd_handover open DIR -- cmd...  opens descriptors 3-9 and a few high
 *       ones (files read-only, O_APPEND, O_RDWR; both ends of a pipe, one
 *       O_NONBLOCK; a socketpair end; some close-on-exec, which must not
 *       arrive), then execs cmd.
 *   fd_handover list  prints one line per open descriptor below 900 (the
 *       library's own live above): number, status flags, close-on-exec and
 *       what it is — two runs must print the same.
 *   fd_handover write FD  every 100 ms prints "n I" and writes "w I" to FD,
 *       saying "wfail I ERROR" when that fails (SIGPIPE ignored). */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

static void put(int fd, int at, int cloexec) {
  if (fd < 0) { perror("fd_handover: open"); exit(1); }
  if (fd != at) {
    if (dup3(fd, at, cloexec ? O_CLOEXEC : 0) < 0) { perror("fd_handover: dup3"); exit(1); }
    close(fd);
  } else if (cloexec) fcntl(at, F_SETFD, FD_CLOEXEC);
}

static void file(const char *dir, const char *name, int flags, int at, int cloexec) {
  char path[4096];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  put(open(path, flags | O_CREAT, 0644), at, cloexec);
}

static int open_all(const char *dir) {
  int p[2], s[2];
  if (pipe(p) < 0 || socketpair(AF_UNIX, SOCK_STREAM, 0, s) < 0) { perror("fd_handover"); return 1; }
  /* Out of the way first: the numbers they got may be wanted below. */
  int rd = fcntl(p[0], F_DUPFD, 500), wr = fcntl(p[1], F_DUPFD, 500), sk = fcntl(s[0], F_DUPFD, 500);
  close(p[0]); close(p[1]); close(s[0]); close(s[1]);
  file(dir, "read", O_RDONLY, 3, 0);
  put(rd, 4, 0);
  fcntl(4, F_SETFL, O_NONBLOCK);
  put(wr, 5, 0);
  file(dir, "log", O_WRONLY | O_APPEND, 6, 0);
  put(sk, 7, 0);
  fcntl(7, F_SETFL, O_NONBLOCK);
  file(dir, "hidden", O_RDONLY, 8, 1);
  file(dir, "rw", O_RDWR, 9, 0);
  file(dir, "high", O_WRONLY | O_APPEND, 40, 0);
  if (dup3(5, 200, 0) < 0) return 1;   /* one description on two numbers */
  file(dir, "hidden-high", O_RDONLY, 300, 1);
  return 0;
}

static int list(void) {
  for (int fd = 0; fd < 900; fd++) {
    int fdflags = fcntl(fd, F_GETFD);
    if (fdflags < 0) continue;
    char link[64], target[4096];
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    ssize_t n = readlink(link, target, sizeof target - 1);
    target[n > 0 ? n : 0] = 0;
    struct stat st;
    fstat(fd, &st);
    const char *what = S_ISFIFO(st.st_mode) ? "pipe" : S_ISSOCK(st.st_mode) ? "socket" : target;
    printf("fd %d flags %#o%s %s\n", fd, fcntl(fd, F_GETFL), (fdflags & FD_CLOEXEC) ? " cloexec" : "", what);
  }
  return 0;
}

static int write_loop(int fd) {
  signal(SIGPIPE, SIG_IGN);
  for (int i = 1;; i++) {
    char line[32];
    int n = snprintf(line, sizeof line, "w %d\n", i);
    if (write(fd, line, n) != n) printf("wfail %d %s\n", i, strerror(errno));
    printf("n %d\n", i);
    if (fflush(stdout) != 0) return 1;   /* no one reads us any more */
    usleep(100000);
  }
}

int main(int argc, char **argv) {
  if (argc == 2 && strcmp(argv[1], "list") == 0) return list();
  if (argc == 3 && strcmp(argv[1], "write") == 0) return write_loop(atoi(argv[2]));
  if (argc > 4 && strcmp(argv[1], "open") == 0 && strcmp(argv[3], "--") == 0) {
    if (open_all(argv[2]) != 0) return 1;
    execvp(argv[4], &argv[4]);
    perror("fd_handover: exec");
    return 127;
  }
  fprintf(stderr, "usage: fd_handover open DIR -- cmd... | fd_handover list | fd_handover write FD\n");
  return 2;
}
