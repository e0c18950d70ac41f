/* Pipes and FIFOs.
 *
 * Anonymous pipes, wherever their ends are in the job's processes (a
 * self-pipe, `a | b`, `$(cmd)`, popen, a pipe to a forked child): at SAVE
 * every holder copies what the pipe holds without taking it out (tee(2)
 * into a scratch pipe: nothing to put back, nobody races) and writes, beside
 * its image, IMAGE.pipes: "pipe INO SIZE LEN\n" and the LEN bytes, per pipe
 * (docs/image-format.md). The restart loader makes one pipe per inode for
 * the whole tree before it forks (restart/pipes.c) and hands its read end
 * to every process as the inherited descriptor "pipe:INO"; here each end is
 * reopened from it (/proc/self/fd/N), with its own flags and number. A
 * pipe also held by a process outside the job refuses the checkpoint.
 * Each process gets its own open file description per end: processes that
 * shared one (after fork) no longer share O_NONBLOCK changes.
 *
 * FIFOs (named) whose every end is in this process: at SAVE the bytes are
 * read out into mmap'd memory that the image carries; the running process
 * gets them back at RESUME, a restored one when the FIFO is reopened by
 * path. A FIFO whose other end may be in another process is refused. */
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
  int fifo;               /* named: reopened by path */
  int first_fd, readers, writers, size;
  char target[256];       /* of the first end, for messages */
  int rd_fd, wr_fd;       /* ends used to drain and refill */
  char *data;             /* drained bytes (mmap'd) */
  size_t len, cap;
  int holder[2];          /* restore: descriptors keeping the pipe alive */
  int restored;           /* ends rebuilt so far */
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

static int drain(struct pipe_rec *p) {
  int avail = 0;
  if (ioctl(p->rd_fd, FIONREAD, &avail) < 0) {
    stasis_fail("fd %d (%s): cannot see what it holds: %s", p->rd_fd, what(p), strerror(errno));
    return -1;
  }
  if (avail <= 0) return 0;
  p->cap = avail;
  p->data = fdu_alloc(p->cap);
  if (!p->data) { stasis_fail("no memory to drain fd %d", p->rd_fd); return -1; }
  while (p->len < (size_t)avail) {   /* avail bytes are there: read never blocks */
    ssize_t r = read(p->rd_fd, p->data + p->len, avail - p->len);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
    p->len += r;
  }
  return 0;
}

/* What an anonymous pipe holds, copied out without being consumed. */
static int snapshot(struct pipe_rec *p) {
  int avail = 0, fd = p->rd_fd >= 0 ? p->rd_fd : p->wr_fd, own = -1;
  if (ioctl(fd, FIONREAD, &avail) < 0) {
    stasis_fail("fd %d (%s): cannot see what it holds: %s", fd, p->target, strerror(errno));
    return -1;
  }
  if (avail <= 0) return 0;
  if (p->rd_fd < 0) {   /* tee reads: a read end of our own, for a moment */
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

struct pipe_walk { int (*visit)(const char *pid, unsigned long long ino, void *ctx); void *ctx; const char *me; };

static int visit_pipe(const char *pid, const char *fd, const char *target, void *ctx) {
  (void)fd;
  struct pipe_walk *w = ctx;
  if (strcmp(pid, w->me) == 0 || strncmp(target, "pipe:[", 6) != 0) return 0;
  return w->visit(pid, strtoull(target + 6, NULL, 10), w->ctx);
}

/* Calls visit(pid, ino, ctx) for every pipe descriptor of every other
 * process on this host, until it returns non-zero (which is returned). */
static int each_foreign_pipe(int (*visit)(const char *pid, unsigned long long ino, void *ctx), void *ctx) {
  char me[32];
  snprintf(me, sizeof me, "%d", (int)syscall(SYS_getpid));
  struct pipe_walk w = { visit, ctx, me };
  return fdu_each_host_fd(visit_pipe, &w);
}

/* A holder of one of our pipes that is not in the job: refuse. */
static int refuse_if_outsider(const char *pid, unsigned long long ino, void *ctx) {
  (void)ctx;
  for (int i = 0; i < npipes; i++) {
    struct pipe_rec *p = &pipes[i];
    if (p->fifo || p->ino != ino || fdu_in_job(pid)) continue;
    char comm[64];
    fdu_comm_of(pid, comm, sizeof comm);
    stasis_fail("fd %d (%s) is the %s end of a pipe that process %s (%s), which is not in the job, holds too: "
                "not supported yet", p->first_fd, p->target, p->readers ? "read" : "write", pid, comm);
    return -1;
  }
  return 0;
}

/* Refuses anonymous pipes that a process outside the job holds too: at
 * restart nothing would be on the other side. */
static int refuse_outsiders(void) {
  int any = 0;
  for (int i = 0; i < npipes; i++) any |= !pipes[i].fifo;
  return any ? each_foreign_pipe(refuse_if_outsider, NULL) : 0;
}

/* IMAGE.pipes beside the image: every anonymous pipe this process holds. */
static int write_records(void) {
  int any = 0;
  for (int i = 0; i < npipes; i++) any |= !pipes[i].fifo;
  if (!any) return 0;
  if (!stasis_save_path) { stasis_fail("pipes: no image path"); return -1; }
  char path[4200];
  snprintf(path, sizeof path, "%s.pipes", stasis_save_path);
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) { stasis_fail("cannot write %s: %s", path, strerror(errno)); return -1; }
  int rc = 0;
  for (int i = 0; i < npipes && rc == 0; i++) {
    struct pipe_rec *p = &pipes[i];
    if (p->fifo) continue;
    char head[96];
    int n = snprintf(head, sizeof head, "pipe %llu %d %zu\n", p->ino, p->size, p->len);
    if (fdu_write_all(fd, head, n) < 0 || (p->len && fdu_write_all(fd, p->data, p->len) < 0)) rc = -1;
  }
  if (rc == 0 && fsync(fd) < 0) rc = -1;
  if (rc < 0) stasis_fail("cannot write %s: %s", path, strerror(errno));
  close(fd);
  return rc;
}

/* Every end has been seen: refuse lonely FIFO ends and pipes shared with
 * outsiders, then drain FIFOs and copy pipes. */
static int pipe_save_end(void) {
  if (refuse_outsiders() < 0) return -1;
  for (int i = 0; i < npipes; i++) {
    struct pipe_rec *p = &pipes[i];
    if (!p->fifo || (p->readers && p->writers)) continue;
    stasis_fail("fd %d (%s) is the %s end of %s whose %s end is not in this process "
                "(another process holds it, or it is closed): not supported yet",
                p->first_fd, p->target, p->readers ? "read" : "write", what(p), p->readers ? "write" : "read");
    return -1;
  }
  for (int i = 0; i < npipes; i++)
    if ((pipes[i].fifo ? drain(&pipes[i]) : snapshot(&pipes[i])) < 0) return -1;
  return write_records();
}

/* Never blocks: the bytes came out of this pipe, which has room for them. */
static void refill(struct pipe_rec *p, int fd) {
  int fl = fcntl(fd, F_GETFL);
  if (p->len && fl >= 0 && !(fl & O_NONBLOCK)) fcntl(fd, F_SETFL, fl | O_NONBLOCK);
  if (p->len && fdu_write_all(fd, p->data, p->len) < 0)
    stasis_log("fd %d (%s): could not put back %zu bytes: %s", fd, p->target, p->len, strerror(errno));
  if (p->len && fl >= 0 && !(fl & O_NONBLOCK)) fcntl(fd, F_SETFL, fl);
  fdu_free(p->data, p->cap);
  p->data = NULL;
  p->len = p->cap = 0;
}

/* A new pipe (or the FIFO opened read-write) holding the saved bytes. */
static int rebuild(struct pipe_rec *p, const char *path) {
  if (p->fifo) {
    p->holder[0] = open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC);
    p->holder[1] = -1;
    if (p->holder[0] < 0) { stasis_fail("cannot reopen FIFO %s (fd %d): %s", path, p->first_fd, strerror(errno)); return -1; }
  } else if (pipe2(p->holder, O_CLOEXEC | O_NONBLOCK) < 0) {
    stasis_fail("cannot make a pipe for fd %d: %s", p->first_fd, strerror(errno));
    return -1;
  }
  int w = p->holder[1] >= 0 ? p->holder[1] : p->holder[0];
  if (p->size > 0 && fcntl(w, F_GETPIPE_SZ) != p->size && fcntl(w, F_SETPIPE_SZ, p->size) < 0)
    stasis_log("fd %d: cannot give the pipe its size %d back: %s", p->first_fd, p->size, strerror(errno));
  refill(p, w);
  return 0;
}

/* An anonymous pipe's end, reopened from the pipe the loader made. */
static int reopen_inherited(const struct stasis_fd *f, const struct pipe_end *e, const struct pipe_rec *p) {
  char name[48], path[64];
  snprintf(name, sizeof name, "pipe:%llu", p->ino);
  int from = fd_inherited(name);
  if (from < 0) {
    stasis_fail("fd %d (%s): the restart loader made no pipe for it (was %s.pipes lost?)", f->fd, f->target,
                stasis_restart_info.image);
    return -1;
  }
  snprintf(path, sizeof path, "/proc/self/fd/%d", from);
  int fd = open(path, (e->flags & O_ACCMODE) | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0 || fcntl(fd, F_SETFL, e->flags) < 0) {
    stasis_fail("cannot reopen fd %d (%s): %s", f->fd, f->target, strerror(errno));
    if (fd >= 0) close(fd);
    return -1;
  }
  return fd;
}

static int pipe_restore(const struct stasis_fd *f, int cookie) {
  struct pipe_end *e = &ends[cookie];
  struct pipe_rec *p = &pipes[e->pipe];
  if (!p->fifo) return reopen_inherited(f, e, p);
  if (p->restored == 0 && rebuild(p, f->target) < 0) return -1;
  char path[1024];
  if (p->fifo) snprintf(path, sizeof path, "%s", f->target);
  else snprintf(path, sizeof path, "/proc/self/fd/%d", p->holder[0]);
  /* O_NONBLOCK first: a FIFO's write end would wait for a reader. */
  int fd = open(path, (e->flags & O_ACCMODE) | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0 || fcntl(fd, F_SETFL, e->flags) < 0) {
    stasis_fail("cannot reopen fd %d (%s): %s", f->fd, f->target, strerror(errno));
    return -1;
  }
  p->restored++;
  int total = 0;
  for (int i = 0; i < nends; i++) total += ends[i].pipe == e->pipe;
  if (p->restored == total) {
    close(p->holder[0]);
    if (p->holder[1] >= 0) close(p->holder[1]);
  }
  return fd;
}

/* The checkpoint is over: the running process gets its bytes back. In a
 * restored process they went back when the pipe was rebuilt. */
static void pipe_resume(void) {
  for (int i = 0; i < npipes; i++) {
    struct pipe_rec *p = &pipes[i];
    if (p->data && p->fifo) refill(p, p->wr_fd);
    else if (p->data) fdu_free(p->data, p->cap);
    p->data = NULL;
  }
  npipes = nends = 0;
}

/* A pipe on stdin/stdout/stderr that only the job's processes hold is the
 * job's own (`a | b`): saved and restored like any other descriptor. One
 * to or from outside (the terminal's, the batch system's) is the restarter's. */
static int outsider_holds(const char *pid, unsigned long long ino, void *want) {
  return ino == *(unsigned long long *)want && !fdu_in_job(pid);
}

static int pipe_stdio_in_job(const struct stasis_fd *f) {
  unsigned long long ino = f->ino;
  return S_ISFIFO(f->mode) && strncmp(f->target, "pipe:[", 6) == 0 && !each_foreign_pipe(outsider_holds, &ino);
}

static const struct stasis_fd_kind pipe_kind = {
  .name = "pipe", .order = 0, .match = pipe_match, .save = pipe_save,
  .save_end = pipe_save_end, .restore = pipe_restore, .resume = pipe_resume,
  .stdio_in_job = pipe_stdio_in_job,
};
STASIS_REGISTER static void pipe_register(void) { stasis_register_fd_kind(&pipe_kind); }
