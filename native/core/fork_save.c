/* The forked save (docs/protocol.md, `SAVE <path> fork`): at the barrier the
 * process is copied (copy-on-write) and the copy, the writer, writes the
 * image while the program runs on. Every thread's context is already in
 * memory (the threads are parked, the checkpoint thread saved its own), fd
 * state and shared memory were saved by the plugins while stopped; what is
 * left is private memory, which copy-on-write holds still for the writer.
 *
 * The writer is made by a raw clone with no exit signal: no SIGCHLD, and
 * wait()/waitpid(-1) in the program never see it (only __WCLONE or __WALL
 * does). It runs no atfork or atexit handler, never talks on the
 * coordinator connection, dies with its parent (PR_SET_PDEATHSIG) and
 * reports through a pipe. */
#include "core.h"
#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef __WCLONE
#define __WCLONE 0x80000000
#endif

struct writer_report { int rc, unsafe; struct image_stats st; char why[1024]; };

static pid_t writer_pid;     /* 0: no writer */
static int writer_fd = -1;   /* read end of its report */
static volatile int writer_busy;   /* a writer's result is not reported yet (futex word) */
/* The program asked for MADV_DONTFORK or MADV_WIPEONFORK (through libc):
 * /proc/self/smaps, slow for large processes, is read before copying. */
static volatile int fork_marked;
/* A writer found what its copy lacks: this process saves stopped from now on. */
static int fork_unsafe;
/* What the image would hold, as the process had it just before the copy:
 * the writer checks that its copy holds all of it. */
#define PRE_FORK_MAX 8192
static struct { uint64_t start, end; } pre_fork[PRE_FORK_MAX];
static int n_pre_fork;

API int madvise(void *addr, size_t len, int advice) {
  if (advice == MADV_DONTFORK || advice == MADV_WIPEONFORK) __atomic_store_n(&fork_marked, 1, __ATOMIC_SEQ_CST);
  return (int)syscall(SYS_madvise, addr, len, advice);
}

/* The first region marked MADV_DONTFORK (dc) or MADV_WIPEONFORK (wf) in
 * /proc/self/smaps, described in `why`; 0 when there is none. */
static int marked_region(char *why, size_t cap) {
  int fd = open("/proc/self/smaps", O_RDONLY | O_CLOEXEC);
  if (fd < 0) { snprintf(why, cap, "cannot read /proc/self/smaps"); return 1; }
  static char buf[65536];
  static char range[40];
  size_t have = 0;
  for (;;) {
    ssize_t n = read(fd, buf + have, sizeof buf - 1 - have);
    if (n <= 0) break;
    have += n;
    buf[have] = 0;
    char *line = buf, *nl;
    while ((nl = strchr(line, '\n'))) {
      *nl = 0;
      char *dash = strchr(line, '-'), *space = strchr(line, ' ');
      if (line[0] >= '0' && line[0] <= 'f' && dash && space && dash < space)
        snprintf(range, sizeof range, "%.*s", (int)(space - line), line);
      else if (strncmp(line, "VmFlags:", 8) == 0 && (strstr(line, " dc") || strstr(line, " wf"))) {
        snprintf(why, cap, "memory at %s is %s", range, strstr(line, " dc") ? "MADV_DONTFORK" : "MADV_WIPEONFORK");
        close(fd);
        return 1;
      }
      line = nl + 1;
    }
    have = buf + have - line;
    memmove(buf, line, have);
    if (have == sizeof buf - 1) have = 0;   /* a line that long is no header we need */
  }
  close(fd);
  return 0;
}

/* What in this process a copy would not hold still or would not have:
 * NULL when a forked save is safe, else why not (for the log). */
const char *fork_save_refusal(void) {
  static char why[700];
  why[0] = 0;
  if (fork_unsafe) return "an earlier copy of it lacked memory (MADV_DONTFORK or MADV_WIPEONFORK)";
  /* Shared memory no plugin saved is written with the image: the program
   * would change it under the writer. */
  struct memory_map m;
  if (memory_read_map(&m) < 0) snprintf(why, sizeof why, "cannot read the memory map");
  n_pre_fork = 0;
  for (int i = 0; !why[0] && i < m.count; i++) {
    const struct region *r = &m.regions[i];
    if ((r->flags & RGN_SHARED) && (r->flags & RGN_CONTENTS))
      snprintf(why, sizeof why, "shared memory %.500s at %#llx is saved with the image", r->path[0] ? r->path : "(anonymous)",
               (unsigned long long)r->start);
    else if (!(r->flags & RGN_CONTENTS)) continue;
    else if (n_pre_fork == PRE_FORK_MAX) snprintf(why, sizeof why, "more than %d memory regions", PRE_FORK_MAX);
    else { pre_fork[n_pre_fork].start = r->start; pre_fork[n_pre_fork++].end = r->end; }
  }
  memory_free_map(&m);
  stasis_clear_failure();
  if (why[0]) return why;
  if (fork_marked && marked_region(why, sizeof why)) return why;
  return NULL;
}

/* In the writer: does the copy hold what the image must? A region marked
 * by a raw madvise system call (not seen by the wrapper above) is missing
 * here (MADV_DONTFORK) or zero (MADV_WIPEONFORK). 0, or 1 with `why`. */
static int copy_lacks(char *why, size_t cap) {
  struct memory_map m;
  if (memory_read_map(&m) < 0) { snprintf(why, cap, "cannot read the copy's memory map"); return 1; }
  int lacks = 0;
  for (int i = 0; !lacks && i < n_pre_fork; i++) {
    uint64_t covered = 0;
    for (int k = 0; k < m.count; k++) {
      uint64_t a = m.regions[k].start > pre_fork[i].start ? m.regions[k].start : pre_fork[i].start;
      uint64_t b = m.regions[k].end < pre_fork[i].end ? m.regions[k].end : pre_fork[i].end;
      if (a < b) covered += b - a;
    }
    if (covered != pre_fork[i].end - pre_fork[i].start) {
      snprintf(why, cap, "memory at %llx-%llx is not in the process's copy (MADV_DONTFORK)",
               (unsigned long long)pre_fork[i].start, (unsigned long long)pre_fork[i].end);
      lacks = 1;
    }
  }
  memory_free_map(&m);
  return lacks || marked_region(why, cap);
}

static __attribute__((noreturn)) void writer_main(const char *path, int report_fd, pid_t parent) {
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if ((pid_t)syscall(SYS_getppid) != parent) syscall(SYS_exit_group, 1);   /* parent already gone */
  prctl(PR_SET_NAME, "stasis-writer");
  /* The program's descriptors are its own: a copy held here would keep a
   * pipe or socket the program closes from ending for its peer, or a
   * flock() held. Only stderr stays (for the log); the coordinator
   * connection goes too, never a line from us. */
  int null = open("/dev/null", O_RDWR | O_CLOEXEC);
  if (null < 0 || dup2(null, 0) < 0 || dup2(null, 1) < 0) syscall(SYS_exit_group, 1);
  if (report_fd > 3) syscall(SYS_close_range, 3U, (unsigned)report_fd - 1, 0U);
  syscall(SYS_close_range, (unsigned)report_fd + 1, ~0U, 0U);
  coord_fd = -1;
  struct writer_report rep;
  memset(&rep, 0, sizeof rep);
  stasis_clear_failure();
  if (copy_lacks(rep.why, sizeof rep.why)) {
    rep.rc = -1;
    rep.unsafe = 1;
  } else {
    rep.rc = image_write(path, &rep.st);
    if (rep.rc < 0) snprintf(rep.why, sizeof rep.why, "%s", stasis_failure() ? stasis_failure() : "unknown error");
  }
  ssize_t w = write(report_fd, &rep, sizeof rep);   /* < PIPE_BUF: whole or not at all */
  syscall(SYS_exit_group, w == (ssize_t)sizeof rep ? 0 : 1);
  __builtin_unreachable();
}

/* Starts the writer of `path`: 0, or -1 (nothing started: save stopped). */
int fork_save_start(const char *path) {
  int p[2];
  if (pipe2(p, O_CLOEXEC) < 0) return -1;
  p[1] = stasis_move_high(p[1]);   /* above what the writer closes and reopens */
  pid_t parent = (pid_t)syscall(SYS_getpid);
  /* Flags 0: a copy of the address space, exit signal none. */
  long pid = syscall(SYS_clone, 0UL, NULL, NULL, NULL, 0UL);
  if (pid == 0) writer_main(path, p[1], parent);
  close(p[1]);
  if (pid < 0) {
    stasis_log("cannot fork the image writer (%s): saving with the process stopped", strerror(errno));
    close(p[0]);
    return -1;
  }
  writer_pid = (pid_t)pid;
  writer_fd = stasis_move_high(p[0]);
  stasis_internal_fds[4] = writer_fd;
  __atomic_store_n(&writer_busy, 1, __ATOMIC_SEQ_CST);
  return 0;
}

int fork_save_fd(void) { return writer_fd; }

static void forget_writer(void) {
  if (writer_fd >= 0) close(writer_fd);
  writer_fd = -1;
  stasis_internal_fds[4] = -1;
  writer_pid = 0;
}

/* The report is in (or the writer died): reaps it. 0 with `st` filled, or
 * -1 after stasis_fail. */
int fork_save_finish(struct image_stats *st) {
  struct writer_report rep;
  ssize_t n;
  do n = read(writer_fd, &rep, sizeof rep); while (n < 0 && errno == EINTR);
  siginfo_t si;
  memset(&si, 0, sizeof si);
  pid_t pid = writer_pid;
  while (waitid(P_PID, (id_t)pid, &si, WEXITED | __WCLONE) < 0 && errno == EINTR) {}
  forget_writer();
  if (n == (ssize_t)sizeof rep && rep.rc == 0) { *st = rep.st; return 0; }
  if (n == (ssize_t)sizeof rep && rep.unsafe) {
    fork_unsafe = 1;
    stasis_fail("image writer %d: %s; this process saves with the process stopped from now on", pid, rep.why);
  } else if (n == (ssize_t)sizeof rep) stasis_fail("image writer %d: %s", pid, rep.why);
  else if (si.si_code == CLD_KILLED || si.si_code == CLD_DUMPED)
    stasis_fail("image writer %d was killed by signal %d before the image was complete", pid, si.si_status);
  else stasis_fail("image writer %d ended (status %d) before the image was complete", pid, si.si_status);
  return -1;
}

/* The generation ends without this writer's image (aborted, the
 * coordinator gone, the process killed): stop it and reap it. */
void fork_save_cancel(void) {
  if (!writer_pid) return;
  kill(writer_pid, SIGKILL);
  siginfo_t si;
  while (waitid(P_PID, (id_t)writer_pid, &si, WEXITED | __WCLONE) < 0 && errno == EINTR) {}
  forget_writer();
  fork_save_reported();
}

/* The writer's result went to the coordinator: exit and exec may go on. */
void fork_save_reported(void) {
  __atomic_store_n(&writer_busy, 0, __ATOMIC_SEQ_CST);
  stasis_syscall_futex(&writer_busy, FUTEX_WAKE, 0x7fffffff, NULL);
}

/* Before the process exits or execs: its image must be reported first,
 * or the generation would lose it (one that ends while its image is
 * written aborts the generation). Bounded, as a barrier is. */
void fork_save_wait(void) {
  struct timespec tick = { 1, 0 };
  for (int waited = 0; __atomic_load_n(&writer_busy, __ATOMIC_SEQ_CST) && waited < 300; waited++)
    stasis_syscall_futex(&writer_busy, FUTEX_WAIT, 1, &tick);
}

/* A child of the program's fork(): its parent's writer is not its own. */
void fork_save_reset_after_fork(void) {
  if (writer_fd >= 0) close(writer_fd);
  writer_fd = -1;
  writer_pid = 0;
  writer_busy = 0;
  /* fork_marked and fork_unsafe stay: MADV_WIPEONFORK regions are in the child too. */
}
