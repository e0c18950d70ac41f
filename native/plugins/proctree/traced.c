/* A process traced by a debugger or strace (ptrace) cannot be restored
 * as it was: the tracer would not be attached again, and meanwhile it sees
 * every signal the checkpoint sends. Refused before any thread is stopped,
 * naming the tracer. */
#include "../../core/core.h"
#include "../fd/fdutil.h"
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>

/* TracerPid of one task of this process, or 0. */
static long tracer_of(int task_dir, const char *tid) {
  static char buf[4096];
  char path[64];
  snprintf(path, sizeof path, "%s/status", tid);
  int fd = openat(task_dir, path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (n <= 0) return 0;
  buf[n] = 0;
  const char *field = fdu_field(buf, "TracerPid:");
  return field ? strtol(field, NULL, 10) : 0;
}

/* The program still runs: the main thread's status and the task list come
 * from the core's kept descriptors (see threads.c); a status of another
 * thread (a program with threads of its own) is opened. */
static long tracer_of_task(int task_dir, const char *tid) {
  long t = strtol(tid, NULL, 10);
  if (t == stasis_ckpt_tid) return 0;   /* ours: traced along with the others */
  static char buf[4096];
  if (t != stasis_kernel_pid || threads_main_status(buf, sizeof buf) <= 0) return tracer_of(task_dir, tid);
  const char *field = fdu_field(buf, "TracerPid:");
  return field ? strtol(field, NULL, 10) : 0;
}

static int refuse_traced(void) {
  int dir = threads_task_dir(), own = dir < 0;
  if (own) dir = open("/proc/self/task", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir < 0) return 0;
  char buf[4096];
  long n, tracer = 0;
  while (!tracer && (n = syscall(SYS_getdents64, dir, buf, sizeof buf)) > 0)
    for (long off = 0; off < n && !tracer;) {
      struct fdu_dirent *d = (void *)(buf + off);
      off += d->reclen;
      if (d->name[0] >= '0' && d->name[0] <= '9') tracer = tracer_of_task(dir, d->name);
    }
  if (own) close(dir);
  if (!tracer) return 0;
  char name[24], comm[64];
  snprintf(name, sizeof name, "%ld", tracer);
  fdu_comm_of(name, comm, sizeof comm);
  stasis_fail("it is being traced (ptrace) by process %ld (%s): not supported", tracer, comm);
  return -1;
}

static const struct stasis_thread_hooks traced_hooks = { .begin = refuse_traced };
STASIS_REGISTER static void traced_register(void) { stasis_register_thread_hooks(&traced_hooks); }
