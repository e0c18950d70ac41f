/* This process's live children, as kernel pids, for SUSPENDED: the
 * coordinator checks that each one is a process of the job too (a child
 * that execs a static program, lost LD_PRELOAD or could not reach the
 * coordinator is not, and the generation must not commit without it).
 * Taken once every thread is stopped, so no child can appear meanwhile.
 * No malloc: a stopped thread may hold its lock. */
#include "core.h"
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

/* Is /proc/PID/stat a live (not zombie) process whose parent is `parent`? */
static int live_child_of(const char *pid, long parent) {
  char path[64], buf[1024];
  snprintf(path, sizeof path, "/proc/%s/stat", pid);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (n <= 0) return 0;
  buf[n] = 0;
  const char *paren = strrchr(buf, ')');   /* the command name may hold anything */
  char state;
  long ppid;
  return paren && sscanf(paren + 1, " %c %ld", &state, &ppid) == 2 && ppid == parent && state != 'Z' && state != 'X';
}

/* " PID,PID,..." (or "" without children) into out; -1 after stasis_fail. */
int children_describe(char *out, size_t cap) {
  struct dent { uint64_t ino; int64_t off; unsigned short reclen; unsigned char type; char name[]; };
  long me = syscall(SYS_getpid);
  out[0] = 0;
  int proc = open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (proc < 0) { stasis_fail("cannot list /proc for children: %s", strerror(errno)); return -1; }
  char buf[4096];
  long n;
  size_t len = 0;
  int rc = 0;
  while (rc == 0 && (n = syscall(SYS_getdents64, proc, buf, sizeof buf)) > 0)
    for (long off = 0; off < n && rc == 0;) {
      struct dent *d = (void *)(buf + off);
      off += d->reclen;
      if (d->name[0] < '1' || d->name[0] > '9' || !live_child_of(d->name, me)) continue;
      size_t w = strlen(d->name) + 1;
      if (len + w + 1 > cap) { stasis_fail("too many children to report (over %zu bytes)", cap); rc = -1; break; }
      out[len] = len ? ',' : ' ';
      memcpy(out + len + 1, d->name, w);   /* with its NUL */
      len += w;
    }
  close(proc);
  return rc;
}
