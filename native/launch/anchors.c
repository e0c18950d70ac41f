/* STASIS_INHERITED: one anchor per open file description the launch
 * inherited, a dup kept by the launched process at a high number (not
 * close-on-exec: it stays across that process's execs), so that a process
 * of the job can tell with kcmp whether a descriptor it holds is one of
 * them, on any number (plugins/fd/inherited.c). "PID ANCHOR:FD,FD ...". */
#include "anchors.h"
#include <fcntl.h>
#include <linux/kcmp.h>
#include <stdio.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

void make_anchors(const int *handed, int n, char *out, size_t cap) {
  struct rlimit rl;
  int base = 960;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < 1024) base = (int)rl.rlim_cur - 64;
  pid_t me = getpid();
  size_t len = (size_t)snprintf(out, cap, "STASIS_INHERITED=%d", (int)me);
  char done[MAX_HANDED] = { 0 };
  for (int i = 0; i < n && i < MAX_HANDED; i++) {
    if (done[i]) continue;
    int anchor = fcntl(handed[i], F_DUPFD, base > 3 ? base : 3);
    if (anchor < 0) continue;
    len += snprintf(out + len, cap - len, " %d:%d", anchor, handed[i]);
    for (int j = i + 1; j < n && j < MAX_HANDED; j++)
      if (!done[j] && syscall(SYS_kcmp, me, me, KCMP_FILE, handed[i], handed[j]) == 0) {
        done[j] = 1;
        len += snprintf(out + len, cap - len, ",%d", handed[j]);
      }
    if (len >= cap) { out[0] = 0; return; }
  }
}
