/* Which processes on this host belong to the job. */
#include "fdutil.h"
#include <stdio.h>
#include <unistd.h>

/* Is process `pid` in the job? libstasis is mapped in it, or it was
 * restored (its memory is anonymous then, its executable the loader). */
int fdu_pid_in_job(const char *pid) {
  static char buf[65536 + 32];
  char path[64];
  snprintf(path, sizeof path, "/proc/%s/exe", pid);
  ssize_t x = readlink(path, buf, 4096);
  if (x > 0) { buf[x] = 0; if (fdu_ends_with(buf, "/stasis-restart")) return 1; }
  snprintf(path, sizeof path, "/proc/%s/maps", pid);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  size_t keep = 0;   /* the tail of the last chunk: a name may straddle two */
  ssize_t r;
  int found = 0;
  while (!found && (r = read(fd, buf + keep, 65536)) > 0) {
    size_t n = keep + (size_t)r;
    found = memmem(buf, n, "libstasis", 9) != NULL;
    keep = n < 16 ? n : 16;
    memmove(buf, buf + n - keep, keep);
  }
  close(fd);
  return found;
}
