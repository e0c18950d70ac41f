/* Pipes and FIFOs whose every end is in this process (the self-pipe trick,
 * a pipe between two threads, a FIFO opened both ways). At SAVE the bytes
 * in the pipe are read out, in order, into mmap'd memory that the image
 * carries; the running process gets them back at RESUME, a restored one
 * when the pipe is rebuilt. Each end keeps its own description, status
 * flags (O_NONBLOCK...) and number; the pipe keeps its capacity. FIFOs are
 * reopened by path. A pipe whose other end may be in another process is
 * refused for now, naming the descriptor. */
#include "../../core/core.h"
#include "../fd/fdutil.h"
#include <stdio.h>
#include <sys/ioctl.h>
#include <sys/stat.h>

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

/* Every end has been seen: refuse lonely ends first, then drain. */
static int pipe_save_end(void) {
  for (int i = 0; i < npipes; i++) {
    struct pipe_rec *p = &pipes[i];
    if (p->readers && p->writers) continue;
    stasis_fail("fd %d (%s) is the %s end of %s whose %s end is not in this process "
                "(another process holds it, or it is closed): not supported yet",
                p->first_fd, p->target, p->readers ? "read" : "write", what(p), p->readers ? "write" : "read");
    return -1;
  }
  for (int i = 0; i < npipes; i++)
    if (drain(&pipes[i]) < 0) return -1;
  return 0;
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

static int pipe_restore(const struct stasis_fd *f, int cookie) {
  struct pipe_end *e = &ends[cookie];
  struct pipe_rec *p = &pipes[e->pipe];
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
  for (int i = 0; i < npipes; i++)
    if (pipes[i].data) refill(&pipes[i], pipes[i].wr_fd);
  npipes = nends = 0;
}

static const struct stasis_fd_kind pipe_kind = {
  .name = "pipe", .order = 0, .match = pipe_match, .save = pipe_save,
  .save_end = pipe_save_end, .restore = pipe_restore, .resume = pipe_resume,
};
__attribute__((constructor)) static void pipe_register(void) { stasis_register_fd_kind(&pipe_kind); }
