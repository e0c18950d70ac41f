/* Pipes and FIFOs.
 *
 * Anonymous pipes and FIFOs (named pipes), wherever their ends are in the
 * job's processes (a self-pipe, `a | b`, `$(cmd)`, popen, a pipe to a
 * forked child, `producer > fifo & consumer < fifo`): at SAVE every holder
 * copies what the pipe holds without taking it out (tee(2) into a scratch
 * pipe: nothing to put back, nobody races) and writes, beside its image,
 * the side file IMAGE.pipes, one record per pipe (docs/image-format.md).
 * The restart loader makes one pipe per inode for the whole tree before it
 * forks — a FIFO is opened at its path (plugins/pipe/loader.c) — fills it once,
 * and hands it to every process as the inherited descriptor "pipe:INO" or
 * "fifo:DEV:INO"; here each end is reopened from it (/proc/self/fd/N),
 * with its own flags and number. A pipe or FIFO also held by a process
 * outside the job refuses the checkpoint. Each process gets its own open
 * file description per end: processes that shared one (after fork) no
 * longer share O_NONBLOCK changes. */
#include "../../core/core.h"
#include "../fd/fdutil.h"
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#define MAX_PIPES 512
#define MAX_ENDS 1024
struct pipe_rec {
  unsigned long long dev, ino;
  int fifo;               /* named: the loader opens it by path */
  int first_fd, readers, writers, size;
  char target[1024];      /* of the first end: "pipe:[INO]" or the FIFO's path */
  int rd_fd, wr_fd;       /* ends to copy the bytes from */
  char *data;             /* copied bytes (mmap'd), until the records are written */
  size_t len, cap;
};
struct pipe_end { int pipe, fd, flags; };

static struct pipe_rec pipes[MAX_PIPES];
static struct pipe_end ends[MAX_ENDS];
static int npipes, nends;

static int pipe_match(const struct stasis_fd *f) { return S_ISFIFO(f->mode); }

static const char *what(const struct pipe_rec *p) { return p->fifo ? "a FIFO" : "a pipe"; }

static int pipe_save(const struct stasis_fd *f) {
  if (f->flags & O_DIRECT) {
    stasis_fail("fd %d (%s) is a packet-mode pipe (O_DIRECT): not supported yet", f->fd, f->target);
    return -1;
  }
  if (nends >= MAX_ENDS) { stasis_fail("more than %d pipe ends", MAX_ENDS); return -1; }
  int i;
  for (i = 0; i < npipes; i++)
    if (pipes[i].dev == f->dev && pipes[i].ino == f->ino) break;
  if (i == npipes) {
    if (npipes >= MAX_PIPES) { stasis_fail("more than %d pipes", MAX_PIPES); return -1; }
    struct pipe_rec *p = &pipes[npipes++];
    memset(p, 0, sizeof *p);
    p->dev = f->dev; p->ino = f->ino;
    p->fifo = f->target[0] == '/';
    p->first_fd = f->fd;
    snprintf(p->target, sizeof p->target, "%s", f->target);
    p->rd_fd = p->wr_fd = -1;
    p->size = fcntl(f->fd, F_GETPIPE_SZ);
  }
  struct pipe_rec *p = &pipes[i];
  int acc = f->flags & O_ACCMODE;
  if (acc != O_WRONLY) { p->readers++; if (p->rd_fd < 0) p->rd_fd = f->fd; }
  if (acc != O_RDONLY) { p->writers++; if (p->wr_fd < 0) p->wr_fd = f->fd; }
  ends[nends] = (struct pipe_end){ i, f->fd, f->flags };
  return nends++;
}

/* What a pipe or FIFO holds, copied out without being consumed. */
static int snapshot(struct pipe_rec *p) {
  int avail = 0, fd = p->rd_fd >= 0 ? p->rd_fd : p->wr_fd, own = -1;
  if (ioctl(fd, FIONREAD, &avail) < 0) {
    stasis_fail("fd %d (%s): cannot see what it holds: %s", fd, p->target, strerror(errno));
    return -1;
  }
  if (avail <= 0) return 0;
  if (p->rd_fd < 0) {   /* tee reads: a read end of our own, for a moment (a FIFO's never blocks: O_NONBLOCK) */
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    if ((own = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)) < 0) {
      stasis_fail("fd %d (%s): cannot open its pipe for reading: %s", fd, p->target, strerror(errno));
      return -1;
    }
    fd = own;
  }
  int scratch[2] = { -1, -1 }, rc = -1;
  p->cap = avail;
  p->data = fdu_alloc(p->cap);
  if (!p->data) stasis_fail("no memory to copy fd %d", fd);
  else if (pipe2(scratch, O_CLOEXEC | O_NONBLOCK) < 0) stasis_fail("cannot make a scratch pipe: %s", strerror(errno));
  else {
    if (fcntl(scratch[1], F_GETPIPE_SZ) < p->size) fcntl(scratch[1], F_SETPIPE_SZ, p->size);
    ssize_t t;
    while ((t = tee(fd, scratch[1], avail, SPLICE_F_NONBLOCK)) < 0 && errno == EINTR) {}
    if (t != avail) stasis_fail("fd %d (%s): copied %zd of its %d bytes: %s", p->first_fd, p->target, t, avail,
                                t < 0 ? strerror(errno) : "scratch pipe too small");
    else {
      while (p->len < (size_t)avail) {
        ssize_t r = read(scratch[0], p->data + p->len, avail - p->len);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) break;
        p->len += r;
      }
      rc = p->len == (size_t)avail ? 0 : -1;
      if (rc < 0) stasis_fail("fd %d (%s): short copy", p->first_fd, p->target);
    }
  }
  if (scratch[0] >= 0) { close(scratch[0]); close(scratch[1]); }
  if (own >= 0) close(own);
  return rc;
}

/* One descriptor of another process that is a pipe or FIFO. */
struct foreign_end {
  const char *pid;
  const char *link;        /* /proc/PID/fd/N */
  const char *target;      /* "pipe:[INO]" or a path */
};

struct pipe_walk { int (*visit)(const struct foreign_end *end, void *ctx); void *ctx; const char *me; };

static int visit_end(const char *pid, const char *fd, const char *target, void *ctx) {
  struct pipe_walk *w = ctx;
  if (strcmp(pid, w->me) == 0 || (target[0] != '/' && strncmp(target, "pipe:[", 6) != 0)) return 0;
  char link[300];
  snprintf(link, sizeof link, "/proc/%s/fd/%s", pid, fd);
  struct foreign_end end = { pid, link, target };
  return w->visit(&end, w->ctx);
}

/* Calls visit() for every descriptor of every other process on this host
 * that is a pipe (or may be a FIFO: its target is a path), until it
 * returns non-zero (which is returned). */
static int each_foreign_pipe(int (*visit)(const struct foreign_end *end, void *ctx), void *ctx) {
  char me[32];
  snprintf(me, sizeof me, "%d", (int)syscall(SYS_getpid));
  struct pipe_walk w = { visit, ctx, me };
  return fdu_each_host_fd(visit_end, &w);
}

/* Is that descriptor an end of p? */
static int is_end_of(const struct foreign_end *end, const struct pipe_rec *p) {
  if (!p->fifo) return strncmp(end->target, "pipe:[", 6) == 0 && strtoull(end->target + 6, NULL, 10) == p->ino;
  struct stat st;   /* a FIFO: same path first (cheap), then the same inode */
  return strcmp(end->target, p->target) == 0 && stat(end->link, &st) == 0 && st.st_dev == p->dev && st.st_ino == p->ino;
}

/* A holder of one of our pipes that is not in the job: refuse. */
static int refuse_if_outsider(const struct foreign_end *end, void *ctx) {
  (void)ctx;
  for (int i = 0; i < npipes; i++) {
    struct pipe_rec *p = &pipes[i];
    if (!is_end_of(end, p) || fdu_in_job(end->pid)) continue;
    char comm[64];
    fdu_comm_of(end->pid, comm, sizeof comm);
    stasis_fail("fd %d (%s) is the %s end of %s that process %s (%s), which is not in the job, holds too: "
                "not supported yet", p->first_fd, p->target, p->readers ? "read" : "write", what(p), end->pid, comm);
    return -1;
  }
  return 0;
}

/* Refuses pipes and FIFOs that a process outside the job holds too: at
 * restart nothing would be on the other side. */
static int refuse_outsiders(void) {
  return npipes ? each_foreign_pipe(refuse_if_outsider, NULL) : 0;
}

/* IMAGE.pipes: every pipe and FIFO this process holds, with its bytes. */
static int write_records(void) {
  if (!npipes) return 0;
  int side = stasis_side_open("pipes");
  if (side < 0) return -1;
  for (int i = 0; i < npipes; i++) {
    struct pipe_rec *p = &pipes[i];
    char head[96];
    int n = p->fifo ? snprintf(head, sizeof head, "fifo %llu %llu %d %zu %zu\n", p->dev, p->ino, p->size, p->len, strlen(p->target))
                    : snprintf(head, sizeof head, "pipe %llu %d %zu\n", p->ino, p->size, p->len);
    if (stasis_side_write(side, head, n) < 0 || (p->fifo && stasis_side_write(side, p->target, strlen(p->target)) < 0) ||
        (p->len && stasis_side_write(side, p->data, p->len) < 0))
      return -1;
  }
  return stasis_side_close(side);
}

/* Every end has been seen: refuse pipes shared with outsiders, then copy
 * what each pipe holds. */
static int pipe_save_end(void) {
  if (refuse_outsiders() < 0) return -1;
  for (int i = 0; i < npipes; i++)
    if (snapshot(&pipes[i]) < 0) return -1;
  return write_records();
}

/* An end, reopened from the pipe or FIFO the loader made or opened. */
static int pipe_restore(const struct stasis_fd *f, int cookie) {
  const struct pipe_end *e = &ends[cookie];
  const struct pipe_rec *p = &pipes[e->pipe];
  char name[64], path[64];
  if (p->fifo) snprintf(name, sizeof name, "fifo:%llu:%llu", p->dev, p->ino);
  else snprintf(name, sizeof name, "pipe:%llu", p->ino);
  int from = fd_inherited(name);
  if (from < 0) {
    stasis_fail("fd %d (%s): the restart loader made no %s for it (was %s.pipes lost?)", f->fd, f->target,
                p->fifo ? "FIFO" : "pipe", stasis_restart_info.image);
    return -1;
  }
  snprintf(path, sizeof path, "/proc/self/fd/%d", from);
  /* O_NONBLOCK first: a FIFO's write end would wait for a reader. */
  int fd = open(path, (e->flags & O_ACCMODE) | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0 || fcntl(fd, F_SETFL, e->flags) < 0) {
    stasis_fail("cannot reopen fd %d (%s): %s", f->fd, f->target, strerror(errno));
    if (fd >= 0) close(fd);
    return -1;
  }
  return fd;
}

/* The checkpoint is over: nothing was taken out of any pipe; forget. */
static void pipe_resume(void) {
  for (int i = 0; i < npipes; i++) fdu_free(pipes[i].data, pipes[i].cap);
  npipes = nends = 0;
}

/* A pipe on stdin/stdout/stderr that only the job's processes hold is the
 * job's own (`a | b`): saved and restored like any other descriptor. One
 * to or from outside (the terminal's, the batch system's) is the restarter's. */
static int outsider_holds(const struct foreign_end *end, void *want) {
  const struct pipe_rec *p = want;
  return is_end_of(end, p) && !fdu_in_job(end->pid);
}

static int pipe_stdio_in_job(const struct stasis_fd *f) {
  struct pipe_rec p = { .dev = f->dev, .ino = f->ino, .fifo = f->target[0] == '/' };
  snprintf(p.target, sizeof p.target, "%s", f->target);
  return S_ISFIFO(f->mode) && !each_foreign_pipe(outsider_holds, &p);
}

static const struct stasis_fd_kind pipe_kind = {
  .name = "pipe", .order = 0, .match = pipe_match, .save = pipe_save,
  .save_end = pipe_save_end, .restore = pipe_restore, .resume = pipe_resume,
  .stdio_in_job = pipe_stdio_in_job,
};
STASIS_REGISTER static void pipe_register(void) { stasis_register_fd_kind(&pipe_kind); }
