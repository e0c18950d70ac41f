/* Which files open only for reading did the job make (DESIGN: "Files the
 * job writes")? Those changed since `stasis launch` started the job:
 * modified or created (mtime), or renamed, linked, chmod'ed or extracted
 * with an old mtime (ctime) at or after the launch time, which launch puts
 * in STASIS_LAUNCH_TIME (milliseconds since the epoch). The value is read
 * once and kept in this library's memory, so a restored process keeps the
 * job's original launch time. Without it (a program that started its child
 * with an environment of its own), a file under a scratch directory — $TMPDIR,
 * /tmp, /var/tmp, /dev/shm — counts as made by the job. Files of pseudo
 * filesystems (/proc, /sys) are never captured. */
#include "../../core/core.h"
#include "written.h"
#include <stdlib.h>
#include <sys/stat.h>
#include <string.h>
#include <sys/vfs.h>
#include <linux/magic.h>

static long long launch_ns = -1;   /* 0: unknown */

static long long launch_time(void) {
  if (launch_ns < 0) {
    const char *v = getenv("STASIS_LAUNCH_TIME");
    launch_ns = v && *v ? (long long)strtoull(v, NULL, 10) * 1000000LL : 0;
  }
  return launch_ns;
}

static int pseudo_fs(int fd) {
  struct statfs s;
  if (fstatfs(fd, &s) < 0) return 1;
  switch ((unsigned long)s.f_type) {
  case PROC_SUPER_MAGIC: case SYSFS_MAGIC: case CGROUP_SUPER_MAGIC: case CGROUP2_SUPER_MAGIC:
  case DEBUGFS_MAGIC: case TRACEFS_MAGIC: case SECURITYFS_MAGIC: case BPF_FS_MAGIC: case DEVPTS_SUPER_MAGIC:
    return 1;
  }
  return 0;
}

static int under(const char *path, const char *dir) {
  size_t n = strlen(dir);
  while (n > 1 && dir[n - 1] == '/') n--;
  return dir[0] == '/' && strncmp(path, dir, n) == 0 && path[n] == '/';
}

int in_scratch_dir(const char *path) {
  const char *tmpdir = getenv("TMPDIR");
  return under(path, "/tmp") || under(path, "/var/tmp") || under(path, "/dev/shm") || (tmpdir && under(path, tmpdir));
}

static long long ns(struct timespec t) { return (long long)t.tv_sec * 1000000000LL + t.tv_nsec; }

int made_by_job(const struct stasis_fd *f) {
  struct stat st;
  if (fstat(f->fd, &st) < 0 || !S_ISREG(st.st_mode) || pseudo_fs(f->fd)) return 0;
  long long launched = launch_time();
  if (!launched) return in_scratch_dir(f->target);
  return ns(st.st_mtim) >= launched || ns(st.st_ctim) >= launched;
}
