/* Process groups and sessions after a restart. The loader re-makes the
 * job's own leaders; a group whose leader is another process of the job is
 * joined again here, once every process is back (ALL_RESTORED). A group or
 * session whose leader is not in the job — the restarter's (the job
 * script's), or a double-forked daemon's whose leader is gone — cannot be
 * the old one: the process is in a new one, and the old id stands for it
 * (an alias, used by the wrappers for group and session ids only). */
#include "../../core/core.h"
#include "pid.h"
#include <sys/syscall.h>
#include <unistd.h>

struct alias { pid_t virt, real; };
static struct alias aliases[2];
static volatile int naliases;
static pid_t saved_pgid, saved_sid;   /* as the program knew them, at SAVE */

pid_t group_to_real(pid_t virt) {
  for (int i = 0; i < naliases; i++) if (aliases[i].virt == virt) return aliases[i].real;
  return pid_to_real(virt);
}

pid_t group_to_virt(pid_t real) {
  for (int i = 0; i < naliases; i++) if (aliases[i].real == real) return aliases[i].virt;
  return pid_to_virt(real);
}

static void save_groups(void) {
  saved_pgid = group_to_virt((pid_t)syscall(SYS_getpgid, 0));
  saved_sid = group_to_virt((pid_t)syscall(SYS_getsid, 0));
}

static void restore_groups(void) {
  pid_t leader = pid_to_real(saved_pgid);
  if ((pid_t)syscall(SYS_getpgid, 0) != leader && pid_is_virtual(saved_pgid)) setpgid(0, leader);
  struct alias next[2];
  int n = 0;
  pid_t pg = (pid_t)syscall(SYS_getpgid, 0), sid = (pid_t)syscall(SYS_getsid, 0);
  if (pg != leader) next[n++] = (struct alias){ saved_pgid, pg };
  if (sid != pid_to_real(saved_sid) && !(n && saved_sid == saved_pgid && sid == pg)) next[n++] = (struct alias){ saved_sid, sid };
  for (int i = 0; i < n; i++) aliases[i] = next[i];
  naliases = n;
}

static int groups_event(enum stasis_event ev) {
  if (ev == STASIS_EVENT_SAVE) save_groups();
  if (ev == STASIS_EVENT_ALL_RESTORED) restore_groups();
  return 0;
}

static const struct stasis_plugin groups_plugin = { "groups", groups_event };
STASIS_REGISTER static void groups_register(void) { stasis_register_plugin(&groups_plugin); }
