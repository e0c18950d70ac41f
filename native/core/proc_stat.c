/* /proc/PID/stat read with system calls only (callers include a signal
 * handler and the checkpoint thread while the job is stopped). */
#include "core.h"
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

/* "/proc/PID/NAME" without stdio. */
void stasis_proc_path(char *out, pid_t pid, const char *name) {
  char digits[16];
  int n = 0;
  unsigned v = (unsigned)pid;
  do { digits[n++] = (char)('0' + v % 10); v /= 10; } while (v);
  char *p = stpcpy(out, "/proc/");
  while (n) *p++ = digits[--n];
  *p++ = '/';
  strcpy(p, name);
}

const char *stasis_proc_stat(pid_t pid, char *buf, size_t cap, char *state, pid_t *ppid) {
  char path[48];
  stasis_proc_path(path, pid, "stat");
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return NULL;
  ssize_t n = read(fd, buf, cap - 1);
  close(fd);
  if (n <= 0) return NULL;
  buf[n] = 0;
  char *p = strrchr(buf, ')');   /* the command name may hold anything */
  if (!p || strlen(p) < 5 || p[1] != ' ') return NULL;   /* ") S 123 ..." */
  *state = p[2];
  pid_t v = 0;
  for (p += 4; *p >= '0' && *p <= '9'; p++) v = v * 10 + (*p - '0');
  *ppid = v;
  return buf;
}
