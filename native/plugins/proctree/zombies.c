/* Zombies: children that exited but that the process has not waited for
 * yet. A zombie has no checkpoint thread and no image; its parent records
 * it instead. At SAVE the parent finds its zombie children (its threads'
 * /proc/self/task/TID/children, else all of /proc: state Z, parent this process), reads each one's exit status without reaping it
 * (waitid WNOWAIT) and writes the side file IMAGE.zombies, one line each:
 * "zombie VPID CODE STATUS\n" (CODE: CLD_EXITED, CLD_KILLED or
 * CLD_DUMPED, STATUS: exit status or signal). The restart loader forks,
 * for the process it becomes, one child per line that ends at once that
 * way (plugins/proctree/loader_zombies.c) and hands its pid over (restart_info.children);
 * the pid plugin maps the virtual pid to it, so wait*() returns the same
 * pid and status as it would have before the checkpoint. */
#include "../../core/core.h"
#include "../fd/fdutil.h"
#include "../pid/pid.h"
#include <stdlib.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#define MAX_ZOMBIES 1024
struct zombie { pid_t vpid; int code, status; };
static struct zombie *zombies;   /* mmap'd: SAVE runs where malloc is not allowed */
static int nzombies;

/* Is /proc/PID/stat a zombie whose parent is `parent`? */
static int zombie_child_of(const char *pid, long parent) {
  char buf[1024], state;
  pid_t ppid;
  return stasis_proc_stat((pid_t)atol(pid), buf, sizeof buf, &state, &ppid) && state == 'Z' && ppid == parent;
}

static int record(pid_t kpid) {
  siginfo_t si;
  memset(&si, 0, sizeof si);
  if (syscall(SYS_waitid, P_PID, kpid, &si, WEXITED | WNOHANG | WNOWAIT, NULL) < 0 || si.si_pid != kpid) return 0;
  if (!zombies && !(zombies = fdu_alloc(MAX_ZOMBIES * sizeof *zombies))) { stasis_fail("no memory for zombies"); return -1; }
  if (nzombies >= MAX_ZOMBIES) { stasis_fail("more than %d children not waited for", MAX_ZOMBIES); return -1; }
  zombies[nzombies++] = (struct zombie){ pid_to_virt(kpid), si.si_code, si.si_status };
  return 0;
}

static int zombie_or_not(const char *pid, void *arg) {
  return zombie_child_of(pid, *(long *)arg) ? record((pid_t)atol(pid)) : 0;
}

static int find_zombies(void) {
  struct dent { uint64_t ino; int64_t off; unsigned short reclen; unsigned char type; char name[]; };
  long me = syscall(SYS_getpid);
  /* The threads' children lists, not every process of the host (in the pause). */
  int listed = task_children(zombie_or_not, &me);
  if (listed != 0) return listed < 0 ? -1 : 0;
  nzombies = 0;
  int proc = open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (proc < 0) { stasis_fail("cannot list /proc: %s", strerror(errno)); return -1; }
  char buf[4096];
  long n;
  int rc = 0;
  while (rc == 0 && (n = syscall(SYS_getdents64, proc, buf, sizeof buf)) > 0)
    for (long off = 0; off < n && rc == 0;) {
      struct dent *d = (void *)(buf + off);
      off += d->reclen;
      if (d->name[0] >= '1' && d->name[0] <= '9' && zombie_child_of(d->name, me)) rc = record((pid_t)atol(d->name));
    }
  close(proc);
  return rc;
}

static int save_zombies(void) {
  nzombies = 0;
  if (find_zombies() < 0) return -1;
  if (!nzombies) return 0;
  int side = stasis_side_open("zombies");
  if (side < 0) return -1;
  for (int i = 0; i < nzombies; i++) {
    char line[96];
    int len = snprintf(line, sizeof line, "zombie %d %d %d\n", (int)zombies[i].vpid, zombies[i].code, zombies[i].status);
    if (stasis_side_write(side, line, (size_t)len) < 0) return -1;
  }
  stasis_debug("%d child(ren) not waited for recorded", nzombies);
  return stasis_side_close(side);
}

static int zombies_event(enum stasis_event ev) {
  return ev == STASIS_EVENT_SAVE ? save_zombies() : 0;
}

static const struct stasis_plugin zombies_plugin = { "zombies", zombies_event };
STASIS_REGISTER static void zombies_register(void) { stasis_register_plugin(&zombies_plugin); }
