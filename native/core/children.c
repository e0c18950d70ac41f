/* This process's live children, as kernel pids, for SUSPENDED: the
 * coordinator checks that each one is a process of the job too (a child
 * that execs a static program, lost LD_PRELOAD or could not reach the
 * coordinator is not, and the generation must not commit without it).
 * Taken once every thread is stopped, so no child can appear meanwhile.
 * No malloc: a stopped thread may hold its lock.
 * A child started by stasis_spawn_outside runs outside the job on purpose
 * (the relay's real ssh or srun: no libstasis, never checkpointed) and is
 * not listed. */
#include "core.h"
#include <errno.h>
#include <spawn.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define PF_EXITING 0x4   /* linux/sched.h: in exit(), descriptors maybe closed already */

/* State, parent and flags of /proc/PID/stat; 0, or -1 when it is gone. */
static int stat_of(const char *pid, char *state, long *ppid, unsigned *flags) {
  char path[64], buf[1024];
  snprintf(path, sizeof path, "/proc/%s/stat", pid);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (n <= 0) return -1;
  buf[n] = 0;
  const char *paren = strrchr(buf, ')');   /* the command name may hold anything */
  return paren && sscanf(paren + 1, " %c %ld %*d %*d %*d %*d %u", state, ppid, flags) == 3 ? 0 : -1;
}

/* Is PID a live (not zombie) process whose parent is `parent`? One that is
 * exiting is waited for (up to 1 s) until it is a zombie: then the zombie
 * plugin finds it at SAVE, its exit recorded with what it wrote before. */
static int live_child_of(const char *pid, long parent) {
  char state;
  long ppid;
  unsigned flags;
  if (stat_of(pid, &state, &ppid, &flags) < 0 || ppid != parent || state == 'Z' || state == 'X') return 0;
  if (!(flags & PF_EXITING)) return 1;
  for (int ms = 0; ms < 1000; ms++) {
    struct timespec tick = { 0, 1000000 };
    nanosleep(&tick, NULL);
    if (stat_of(pid, &state, &ppid, &flags) < 0 || state == 'Z' || state == 'X') return 0;
  }
  return 1;
}

/* Kernel pids of the children started outside the job. Emptied in a
 * restored process: they were the old kernel's. */
static pid_t outside[64];
static int noutside;

static int is_outside(const char *pid) {
  long p = atol(pid);
  for (int i = 0; i < noutside; i++) if (outside[i] == p) return 1;
  return 0;
}

/* Forget the dead: a slot is free again once its child was waited for. */
static void outside_prune(void) {
  int kept = 0;
  for (int i = 0; i < noutside; i++) {
    char path[64];
    snprintf(path, sizeof path, "/proc/%d", (int)outside[i]);
    if (access(path, F_OK) == 0) outside[kept++] = outside[i];
  }
  noutside = kept;
}

/* posix_spawn of a program that is not part of the job (its environment
 * must not preload libstasis: envp is the caller's business). No
 * checkpoint starts between the spawn and the record. The kernel's pid,
 * or -1 with errno. */
API pid_t stasis_spawn_outside(const char *path, const posix_spawn_file_actions_t *actions,
                               const posix_spawnattr_t *attr, char *const argv[], char *const envp[]) {
  if (stasis_cfg.signal > 0) stasis_creation_enter();
  outside_prune();
  pid_t pid = -1;
  int rc = noutside < (int)(sizeof outside / sizeof outside[0]) ? posix_spawn(&pid, path, actions, attr, argv, envp) : EAGAIN;
  if (rc == 0) outside[noutside++] = pid;
  if (stasis_cfg.signal > 0) stasis_creation_leave();
  if (rc != 0) { errno = rc; return -1; }
  return pid;
}

void children_restored(void) { noutside = 0; }

struct dent { uint64_t ino; int64_t off; unsigned short reclen; unsigned char type; char name[]; };

/* Appends ",PID" (" PID" first) to out; -1 after stasis_fail when full. */
static int add(char *out, size_t cap, size_t *len, const char *pid) {
  size_t w = strlen(pid) + 1;
  if (*len + w + 1 > cap) { stasis_fail("too many children to report (over %zu bytes)", cap); return -1; }
  out[*len] = *len ? ',' : ' ';
  memcpy(out + *len + 1, pid, w);   /* with its NUL */
  *len += w;
  return 0;
}

/* Every process of the host whose parent we are: the fallback when the
 * kernel keeps no per-task children list (CONFIG_PROC_CHILDREN). */
static int walk_proc(char *out, size_t cap, size_t *len, long me) {
  int proc = open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (proc < 0) { stasis_fail("cannot list /proc for children: %s", strerror(errno)); return -1; }
  char buf[4096];
  long n;
  int rc = 0;
  while (rc == 0 && (n = syscall(SYS_getdents64, proc, buf, sizeof buf)) > 0)
    for (long off = 0; off < n && rc == 0;) {
      struct dent *d = (void *)(buf + off);
      off += d->reclen;
      if (d->name[0] >= '1' && d->name[0] <= '9' && !is_outside(d->name) && live_child_of(d->name, me)) rc = add(out, cap, len, d->name);
    }
  close(proc);
  return rc;
}

/* Each pid in /proc/self/task/TID/children of every thread (zombies
 * included: they stay on the list until reaped), to `each`: 1 when the
 * kernel has the lists, 0 when it does not (or one may be cut short: walk
 * /proc instead), -1 when `each` failed. */
int task_children(int (*each)(const char *pid, void *arg), void *arg) {
  int tasks = open("/proc/self/task", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (tasks < 0) return 0;
  char buf[4096], list[8192], path[64];
  long n;
  int rc = 1, seen = 0;
  while (rc == 1 && (n = syscall(SYS_getdents64, tasks, buf, sizeof buf)) > 0)
    for (long off = 0; off < n && rc == 1;) {
      struct dent *d = (void *)(buf + off);
      off += d->reclen;
      if (d->name[0] < '1' || d->name[0] > '9') continue;
      snprintf(path, sizeof path, "%s/children", d->name);
      int fd = openat(tasks, path, O_RDONLY | O_CLOEXEC);
      if (fd < 0) { rc = errno == ENOENT && !seen ? 0 : 1; break; }   /* none: no such kernel support */
      seen = 1;
      ssize_t got = read(fd, list, sizeof list - 1);
      close(fd);
      if (got == (ssize_t)sizeof list - 1) { rc = 0; break; }
      list[got > 0 ? got : 0] = 0;
      for (char *save = NULL, *pid = strtok_r(list, " \n", &save); pid && rc == 1; pid = strtok_r(NULL, " \n", &save))
        if (each(pid, arg) < 0) rc = -1;
    }
  close(tasks);
  return rc;
}

struct describe { char *out; size_t cap, *len; long me; };

static int describe_one(const char *pid, void *arg) {
  struct describe *w = arg;
  return !is_outside(pid) && live_child_of(pid, w->me) ? add(w->out, w->cap, w->len, pid) : 0;
}

/* The live children from the task lists: 1, 0 (walk /proc), -1. */
static int from_task_lists(char *out, size_t cap, size_t *len, long me) {
  struct describe w = { out, cap, len, me };
  int rc = task_children(describe_one, &w);
  if (rc == 0) { *len = 0; out[0] = 0; }
  return rc;
}

/* " PID,PID,..." (or "" without children) into out; -1 after stasis_fail. */
int children_describe(char *out, size_t cap) {
  long me = syscall(SYS_getpid);
  size_t len = 0;
  out[0] = 0;
  int rc = from_task_lists(out, cap, &len, me);
  return rc != 0 ? (rc < 0 ? -1 : 0) : walk_proc(out, cap, &len, me);
}
