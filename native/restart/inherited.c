/* Descriptors the job inherited at launch (plugins/fd/inherited.c). Each
 * image's side file "IMAGE.inherited" names, one line "FD ACCESS" (r, w,
 * rw), the launch numbers its process still held a descriptor of. They come
 * from whoever runs the restart: its own descriptor of that number, when it
 * has one (stdio always does), else a stand-in whose other end is gone —
 * a pipe or socket that reads EOF and fails writes with EPIPE — and the
 * restart says so once. Handed to the restored processes as
 * "inherit:FD=N" in restart_info.inherited. */
#include "side.h"
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_NUMBER 65536
static unsigned char restarter_has[MAX_NUMBER / 8];

/* Before the loader opens anything: which numbers are the restarter's.
 * /proc/self/fd lists them (a probe of every number up to the limit is
 * 65536 system calls, 10 ms on a VM); the probe where /proc is absent. */
void inherited_snapshot(void) {
  DIR *d = opendir("/proc/self/fd");
  if (d) {
    int own = dirfd(d);
    for (struct dirent *e; (e = readdir(d));) {
      char *end;
      long fd = strtol(e->d_name, &end, 10);
      if (*end || end == e->d_name || fd == own || fd < 0 || fd >= MAX_NUMBER) continue;
      restarter_has[fd / 8] |= (unsigned char)(1 << (fd % 8));
    }
    closedir(d);
    return;
  }
  struct rlimit rl;
  int top = getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < MAX_NUMBER ? (int)rl.rlim_cur : MAX_NUMBER;
  for (int fd = 0; fd < top; fd++)
    if (fcntl(fd, F_GETFD) >= 0) restarter_has[fd / 8] |= (unsigned char)(1 << (fd % 8));
}

static int has(int fd) { return fd >= 0 && fd < MAX_NUMBER && (restarter_has[fd / 8] & (1 << (fd % 8))); }

#define MAX_WANTED 1024
static struct { int fd, read, write; } wanted[MAX_WANTED];
static int nwanted;

static int read_wanted(const char *image) {
  char *buf;
  size_t len;
  if (side_file_read(image, "inherited", &buf, &len) < 0) return -1;
  for (char *line = buf; line && *line;) {
    int fd;
    char acc[4] = "";
    if (sscanf(line, "%d %3s", &fd, acc) == 2) {
      int i = 0;
      while (i < nwanted && wanted[i].fd != fd) i++;
      if (i == nwanted && nwanted < MAX_WANTED) wanted[nwanted++].fd = fd;
      if (i < nwanted) {
        wanted[i].read |= strchr(acc, 'r') != NULL;
        wanted[i].write |= strchr(acc, 'w') != NULL;
      }
    }
    line = strchr(line, '\n');
    if (line) line++;
  }
  free(buf);
  return 0;
}

/* One end whose peer is gone, or -1. */
static int stand_in(int readable, int writable) {
  int p[2];
  if (readable && writable) {
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, p) < 0) return -1;
  } else if (pipe2(p, O_CLOEXEC) < 0) {
    return -1;
  }
  int keep = writable && !readable ? p[1] : p[0];
  close(keep == p[0] ? p[1] : p[0]);
  return keep;
}

int inherited_prepare(int count, const char *const *images, char *out, size_t cap) {
  nwanted = 0;
  for (int i = 0; i < count; i++)
    if (read_wanted(images[i]) < 0) return -1;
  char missing[512] = "";
  size_t nmissing = 0;
  for (int i = 0; i < nwanted; i++) {
    int fd = wanted[i].fd, from = fd;
    if (!has(fd)) {
      if ((from = stand_in(wanted[i].read, wanted[i].write)) < 0) {
        fprintf(stderr, "stasis-restart: cannot make a stand-in for fd %d: %m\n", fd);
        return -1;
      }
      nmissing += snprintf(missing + nmissing, nmissing < sizeof missing ? sizeof missing - nmissing : 0, "%s%d",
                           nmissing ? ", " : "", fd);
    }
    size_t used = strlen(out);
    if (snprintf(out + used, cap - used, "%sinherit:%d=%d", used ? " " : "", fd, from) >= (int)(cap - used)) {
      fprintf(stderr, "stasis-restart: too many descriptors to hand over\n");
      return -1;
    }
  }
  if (nmissing)
    fprintf(stderr, "stasis restart: the job inherited fd %s at launch and this restart has no such descriptor: "
            "it gets one whose other end is gone (EOF on read, EPIPE on write)\n", missing);
  return 0;
}
