/* What the job inherited at launch (DESIGN: "What the job made, and what it
 * inherited"). `stasis launch` leaves in the launched process one anchor
 * per open file description it inherited — a dup at a high number, kept
 * across that process's execs — and names them in STASIS_INHERITED
 * ("PID ANCHOR:FD,FD ..."; native/addon/execve.c). A descriptor of any job
 * process that is one of those descriptions (kcmp against the anchor, on
 * whatever number) belongs to the outside: it is not saved and never
 * blocks a checkpoint; at restart it comes from the restarter's descriptor
 * of its launch number, or a stand-in (restart/inherited.c). Everything
 * else, stdio included, is the job's own and saved by its kind. Without the
 * record (a process not started by `stasis launch`, or the launched process
 * gone), stdin/stdout/stderr are the restarter's as before. */
#include "../../core/core.h"
#include "../pid/pid.h"
#include "fdutil.h"
#include "inherited.h"
#include <linux/kcmp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>

#define MAX_ANCHORS 128
#define MAX_LAUNCH_FDS 8
struct anchor { int fd, nlaunch, launch[MAX_LAUNCH_FDS]; };
static struct anchor anchors[MAX_ANCHORS];
static int nanchors;
static pid_t holder;   /* the launched process, as the job knows its pid */

/* SAVE: this process's descriptors that are inherited ones. */
#define MAX_HELD 1024
static struct { int fd, from, cloexec, acc; } held[MAX_HELD];
static int nheld;
static int usable;   /* the record can be used at this SAVE */

/* Copies of the anchors in a process other than the launched one (a forked
 * or spawned child inherits them) go at once: they would hold an inherited
 * pipe open after the child closed its own end. A copy is closed only when
 * `parent` holds the same description at the same number (and, when known,
 * the launched process too), so a descriptor of the program's never is. */
static void drop_copies(pid_t parent, int check_holder) {
  pid_t me = (pid_t)syscall(SYS_getpid), at = pid_to_real(holder);
  for (int i = 0; i < nanchors; i++) {
    int fd = anchors[i].fd;
    if (syscall(SYS_kcmp, me, parent, KCMP_FILE, fd, fd) != 0) continue;
    if (check_holder && syscall(SYS_kcmp, me, at, KCMP_FILE, fd, fd) != 0) continue;
    close(fd);
  }
}

static void after_fork_in_child(void) { drop_copies(getppid(), 1); }

STASIS_REGISTER static void inherited_read_record(void) {
  const char *s = getenv("STASIS_INHERITED");
  if (!s) return;
  char *end;
  holder = (pid_t)strtol(s, &end, 10);
  for (s = end; *s == ' ' && nanchors < MAX_ANCHORS;) {
    struct anchor *a = &anchors[nanchors];
    a->fd = (int)strtol(s + 1, &end, 10);
    if (*end != ':') break;
    a->nlaunch = 0;
    do a->launch[a->nlaunch] = (int)strtol(end + 1, &end, 10);
    while (++a->nlaunch < MAX_LAUNCH_FDS && *end == ',');
    while (*end == ',') strtol(end + 1, &end, 10);   /* dups past the eighth: the first number serves */
    nanchors++;
    s = end;
  }
  if (!nanchors) return;
  /* Exec'd by a process that holds them too: a child, not the launched process. */
  drop_copies(getppid(), 0);
  pthread_atfork(NULL, NULL, after_fork_in_child);
}

int inherited_begin(void) {
  nheld = 0;
  usable = 0;
  if (!nanchors) return 0;
  pid_t at = pid_to_real(holder);
  /* The launched process still holds its anchors: kcmp can tell. */
  usable = at > 0 && syscall(SYS_kcmp, at, at, KCMP_FILE, anchors[0].fd, anchors[0].fd) == 0;
  if (!usable) stasis_debug("launch record unusable (launched process %d gone): stdio is the restarter's", (int)holder);
  return usable;
}

int inherited_usable(void) { return usable; }

/* 1: fd is an inherited description (recorded or, for a copy of an anchor
 * in a process other than the launched one, dropped); 0: the job's own. */
int inherited_take(int fd, int cloexec, int flags) {
  if (!usable) return 0;
  pid_t me = (pid_t)syscall(SYS_getpid), at = pid_to_real(holder);
  for (int i = 0; i < nanchors; i++) {
    if (syscall(SYS_kcmp, me, at, KCMP_FILE, fd, anchors[i].fd) != 0) continue;
    if (fd == anchors[i].fd && me != at) return 1;   /* a spawned child's copy of the anchor: not restored */
    if (nheld >= MAX_HELD) { stasis_fail("more than %d inherited descriptors", MAX_HELD); return -1; }
    int from = anchors[i].launch[0];
    for (int k = 0; k < anchors[i].nlaunch; k++) if (anchors[i].launch[k] == fd) from = fd;
    int acc = flags & O_ACCMODE;
    held[nheld++] = (typeof(held[0])){ fd, from, cloexec, acc };
    stasis_debug("fd %d is inherited (launch fd %d)", fd, from);
    return 1;
  }
  return 0;
}

/* IMAGE.inherited: the launch numbers the loader must hand over. */
int inherited_save_end(void) {
  if (!nheld) return 0;
  int side = stasis_side_open("inherited");
  if (side < 0) return -1;
  for (int i = 0; i < nheld; i++) {
    char line[48];
    int n = snprintf(line, sizeof line, "%d %s\n", held[i].from,
                     held[i].acc == O_RDONLY ? "r" : held[i].acc == O_WRONLY ? "w" : "rw");
    if (stasis_side_write(side, line, n) < 0) return -1;
  }
  return stasis_side_close(side);
}

int inherited_top(void) {
  int top = 0;
  for (int i = 0; i < nheld; i++) if (held[i].fd >= top) top = held[i].fd + 1;
  return top;
}

/* RESTART, before the kinds restore: each from what the loader handed over. */
int inherited_restore(void) {
  for (int i = 0; i < nheld; i++) {
    char name[32];
    snprintf(name, sizeof name, "inherit:%d", held[i].from);
    int from = fd_inherited(name);
    if (from < 0) {
      stasis_fail("fd %d (inherited at launch as fd %d): the restart loader handed nothing over for it", held[i].fd,
                  held[i].from);
      return -1;
    }
    if (dup3(from, held[i].fd, held[i].cloexec ? O_CLOEXEC : 0) < 0) {
      stasis_fail("fd %d (inherited at launch as fd %d): %s", held[i].fd, held[i].from, strerror(errno));
      return -1;
    }
  }
  return 0;
}
