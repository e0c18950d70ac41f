/* stasis-handover: runs Node for the CLI (bin/stasis.js) with the
 * descriptors it inherited kept out of Node's reach, so that `stasis launch`
 * and `stasis restart` hand them on exactly as they got them. Node's runtime
 * marks every descriptor from 0 up to past 15 close-on-exec, may make stdio
 * non-blocking, and opens its own at the lowest free numbers. So, before
 * Node starts: each descriptor above stderr moves to a high number (if
 * not there already) — the CLI marks them close-on-exec once it runs
 * (execve.c: guard), so the coordinator it spawns does not inherit them —
 * and STASIS_HANDOVER records "PID;FD:FLAGS ...;FD=MOVED:FLAGS ..."
 * (stdio with its status flags; moved ones with where they went). The
 * execve addon (native/addon/execve.c) puts them back just before the exec. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "handover.h"

#define MAX_HANDED 1024

int handover_exec(char **argv) {
  int fds[MAX_HANDED], n = 0;
  DIR *d = opendir("/proc/self/fd");
  struct dirent *e;
  while (d && (e = readdir(d)) && n < MAX_HANDED) {
    int fd = atoi(e->d_name);
    if (e->d_name[0] >= '0' && e->d_name[0] <= '9' && fd != dirfd(d)) fds[n++] = fd;
  }
  if (d) closedir(d);
  struct rlimit rl;
  int base = 500;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < 1024) base = (int)rl.rlim_cur / 2;
  static char rec[MAX_HANDED * 40];
  size_t len = (size_t)snprintf(rec, sizeof rec, "%d;", (int)getpid());
  for (int i = 0; i < n; i++)
    if (fds[i] <= 2) len += snprintf(rec + len, sizeof rec - len, "%d:%d ", fds[i], fcntl(fds[i], F_GETFL));
  len += snprintf(rec + len, sizeof rec - len, ";");
  for (int i = 0; i < n && len < sizeof rec - 40; i++) {
    if (fds[i] <= 2) continue;
    int flags = fcntl(fds[i], F_GETFL);
    /* Already high: Node leaves it alone, only its inheritance goes. */
    int moved = fds[i] >= base ? fds[i] : fcntl(fds[i], F_DUPFD, base);
    if (flags < 0 || moved < 0) continue;   /* left where it is: Node may mark it */
    if (moved != fds[i]) close(fds[i]);
    len += snprintf(rec + len, sizeof rec - len, "%d=%d:%d ", fds[i], moved, flags);
  }
  setenv("STASIS_HANDOVER", rec, 1);
  execvp(argv[0], argv);
  fprintf(stderr, "stasis: cannot run %s: %s\n", argv[0], strerror(errno));
  return 127;
}

#ifndef HANDOVER_NO_MAIN
int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: stasis-handover program [args...]\n");
    return 2;
  }
  return handover_exec(&argv[1]);
}
#endif
