/* Pseudo-terminal pairs (/dev/ptmx masters, /dev/pts/N slaves) held by the
 * job's processes, typically a parent driving a child on the slave (script,
 * expect). At SAVE one process per pair, the job's master holder with the
 * lowest pid (the "drainer"), takes out what is queued in both directions,
 * reads the settings (termios, window size, packet and lock modes, session
 * and foreground group), writes them beside its image as IMAGE.ptys and
 * puts the bytes straight back (ptyio.h) while every process is still
 * stopped. The restart loader makes one new pair per record before it
 * forks (plugins/pty/loader.c), fills it, makes it the controlling terminal of
 * its session and hands both ends to every process as "ptm:N" and "pts:N";
 * here masters are dups of the loader's (one description, as after fork)
 * and slaves are reopened from it. The new slave may have another number.
 * A pair held by a process outside the job, and a slave whose master is
 * not in the job (the user's terminal) on a descriptor other than
 * stdin/stdout/stderr, refuse the checkpoint. */
#include "../../core/core.h"
#include "../fd/fdutil.h"
#include "../pid/pid.h"
#include "ptyio.h"
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>

#define MAX_PTYS 64
#define MAX_ENDS 256
struct pty_rec {
  int idx;            /* N of /dev/pts/N */
  int master_fd;      /* one of our master descriptors, or -1 */
  int first_fd;       /* for messages */
};
struct pty_end { int pty, master, flags; };

static struct pty_rec ptys[MAX_PTYS];
static struct pty_end ends[MAX_ENDS];
static int nptys, nends;

static int is_master_dev(unsigned long long rdev) { return major(rdev) == 5 && minor(rdev) == 2; }

static int pty_match(const struct stasis_fd *f) {
  return S_ISCHR(f->mode) && (is_master_dev(f->rdev) || (major(f->rdev) >= 136 && major(f->rdev) <= 143));
}

/* The pair's number, or -1. */
static int index_of(const struct stasis_fd *f) {
  int n = -1;
  if (is_master_dev(f->rdev)) return ioctl(f->fd, TIOCGPTN, &n) == 0 ? n : -1;
  if (strncmp(f->target, "/dev/pts/", 9) != 0) return -1;
  char *end;
  long v = strtol(f->target + 9, &end, 10);
  return *end ? -1 : (int)v;
}

static int pty_save(const struct stasis_fd *f) {
  int idx = index_of(f);
  if (idx < 0) { stasis_fail("fd %d (%s): cannot tell which pseudo-terminal it is", f->fd, f->target); return -1; }
  if (nends >= MAX_ENDS) { stasis_fail("more than %d pseudo-terminal descriptors", MAX_ENDS); return -1; }
  int i;
  for (i = 0; i < nptys && ptys[i].idx != idx; i++) {}
  if (i == nptys) {
    if (nptys >= MAX_PTYS) { stasis_fail("more than %d pseudo-terminals", MAX_PTYS); return -1; }
    ptys[nptys++] = (struct pty_rec){ idx, -1, f->fd };
  }
  int master = is_master_dev(f->rdev);
  if (master && ptys[i].master_fd < 0) ptys[i].master_fd = f->fd;
  ends[nends] = (struct pty_end){ i, master, f->flags };
  return nends++;
}

/* --- who else holds our pairs --- */

/* Which pair another process's descriptor is: 1 master, 0 slave, -1 none. */
static int classify(const char *pid, const char *fd, const char *target, int *idx) {
  if (strncmp(target, "/dev/pts/", 9) == 0 && target[9] >= '0' && target[9] <= '9') {
    *idx = atoi(target + 9);
    return 0;
  }
  if (strcmp(target, "/dev/ptmx") != 0 && strcmp(target, "/dev/pts/ptmx") != 0) return -1;
  char path[96], info[512];
  snprintf(path, sizeof path, "/proc/%s/fdinfo/%s", pid, fd);
  int f = open(path, O_RDONLY | O_CLOEXEC);
  if (f < 0) return -1;
  ssize_t n = read(f, info, sizeof info - 1);
  close(f);
  info[n > 0 ? n : 0] = 0;
  const char *v = fdu_field(info, "tty-index:");
  if (!v) return -1;
  *idx = atoi(v);
  return 1;
}

struct survey {
  int me;                       /* our pid */
  int lowest[MAX_PTYS];         /* lowest pid of a job process holding the master; 0 none */
  int want;                     /* for stdio_in_job: this pair's number */
  int found;
};

static int survey_fd(const char *pid, const char *fd, const char *target, void *ctx) {
  struct survey *s = ctx;
  int idx, master = classify(pid, fd, target, &idx), p = atoi(pid);
  if (master < 0) return 0;
  if (s->want >= 0) return s->found = master == 1 && idx == s->want && (p == s->me || fdu_in_job(pid));
  int i;
  for (i = 0; i < nptys && ptys[i].idx != idx; i++) {}
  if (i == nptys) return 0;
  if (p != s->me && !fdu_in_job(pid)) {
    char comm[64];
    fdu_comm_of(pid, comm, sizeof comm);
    stasis_fail("fd %d (/dev/pts/%d) is a pseudo-terminal whose %s process %s (%s), which is not in the job, "
                "holds too: not supported yet", ptys[i].first_fd, idx, master ? "master" : "slave", pid, comm);
    return -1;
  }
  if (master && (s->lowest[i] == 0 || p < s->lowest[i])) s->lowest[i] = p;
  return 0;
}

/* --- draining (the drainer only) --- */

static int read_input(int s, struct pty_state *st) {
  int canon = (st->tio.c_lflag & ICANON) != 0;
  if (canon) {   /* each read gives one line: its boundaries are kept */
    for (;;) {
      if (st->inlen >= PTY_INPUT_MAX || st->nsegs >= PTY_MAX_SEGS) return -1;
      ssize_t r = read(s, st->in + st->inlen, PTY_INPUT_MAX - st->inlen);
      if (r < 0 && errno == EINTR) continue;
      if (r < 0 && errno == EAGAIN) break;
      if (r < 0) return -1;
      char last = r ? st->in[st->inlen + r - 1] : 0;
      int ended = r && (last == '\n' || (st->tio.c_cc[VEOL] && last == st->tio.c_cc[VEOL]) ||
                        ((st->tio.c_lflag & IEXTEN) && st->tio.c_cc[VEOL2] && last == st->tio.c_cc[VEOL2]));
      st->segs[st->nsegs++] = (struct pty_seg){ ended ? PTY_SEG_LINE : PTY_SEG_EOF, (unsigned short)r };
      st->inlen += r;
    }
  }
  /* The rest: raw input, or a line still being typed (readable once
   * canonical mode is off for a moment). */
  struct termios raw = st->tio;
  raw.c_lflag &= ~ICANON;
  raw.c_cc[VMIN] = raw.c_cc[VTIME] = 0;
  if (canon && tcsetattr(s, TCSANOW, &raw) < 0) return -1;
  size_t before = st->inlen;
  for (;;) {
    if (st->inlen >= PTY_INPUT_MAX) { errno = ENOSPC; break; }
    ssize_t r = read(s, st->in + st->inlen, PTY_INPUT_MAX - st->inlen);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) { errno = 0; break; }
    st->inlen += r;
  }
  int full = errno == ENOSPC;
  if (canon && tcsetattr(s, TCSANOW, &st->tio) < 0) return -1;
  if (st->inlen > before) st->segs[st->nsegs++] = (struct pty_seg){ PTY_SEG_RAW, (unsigned short)(st->inlen - before) };
  return full ? -1 : 0;
}

static int read_output(int m, struct pty_state *st) {
  for (;;) {
    struct pollfd p = { m, POLLIN, 0 };   /* poll pushes pending bytes through first */
    if (poll(&p, 1, 0) <= 0 || !(p.revents & POLLIN)) return 0;
    if (st->outlen == st->outcap) {
      size_t cap = st->outcap ? st->outcap * 2 : 65536;
      char *more = fdu_alloc(cap);
      if (!more) return -1;
      if (st->outlen) memcpy(more, st->out, st->outlen);
      fdu_free(st->out, st->outcap);
      st->out = more;
      st->outcap = cap;
    }
    ssize_t r = read(m, st->out + st->outlen, st->outcap - st->outlen);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return 0;   /* EIO: the slave side is closed and nothing is left */
    st->outlen += r;
  }
}

/* A slave descriptor of our own, even when the pair is locked. */
static int open_peer(int m, int locked) {
  int zero = 0, one = 1;
  if (locked) ioctl(m, TIOCSPTLCK, &zero);
  int s = ioctl(m, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
  if (locked) ioctl(m, TIOCSPTLCK, &one);
  return s;
}

static int drain(const struct pty_rec *r, int out) {
  int m = r->master_fd, s = -1, pkt_off = 0, rc = -1;
  struct pty_state *st = fdu_alloc(sizeof *st);
  if (!st) { stasis_fail("no memory to save /dev/pts/%d", r->idx); return -1; }
  ioctl(m, TIOCGPTLCK, &st->locked);
  ioctl(m, TIOCGPKT, &st->packet);
  int ld = -1;
  pid_t id;
  if ((s = open_peer(m, st->locked)) < 0)
    stasis_fail("fd %d (/dev/pts/%d): cannot open its slave side: %s", m, r->idx, strerror(errno));
  else if (ioctl(s, TIOCGETD, &ld) < 0 || ld != N_TTY)
    stasis_fail("fd %d (/dev/pts/%d): line discipline %d: only the terminal one (0) is supported", m, r->idx, ld);
  else if (tcgetattr(s, &st->tio) < 0 || ioctl(s, TIOCGWINSZ, &st->ws) < 0)
    stasis_fail("fd %d (/dev/pts/%d): cannot read its settings: %s", m, r->idx, strerror(errno));
  else {
    if (ioctl(m, TIOCGSID, &id) == 0) st->sid = pid_to_virt(id);
    if (ioctl(m, TIOCGPGRP, &id) == 0 && id > 0) st->fg = pid_to_virt(id);
    int zero = 0;
    pkt_off = st->packet && ioctl(m, TIOCPKT, &zero) == 0;   /* plain reads: no status byte */
    if (read_input(s, st) < 0)
      stasis_fail("fd %d (/dev/pts/%d): more input is queued toward its reader than its line discipline "
                  "holds (%d bytes): not supported yet", m, r->idx, PTY_INPUT_MAX);
    else if (read_output(m, st) < 0) stasis_fail("no memory to save /dev/pts/%d's output", r->idx);
    else rc = 0;
    char head[512], err[256];
    int n = ptyio_header(head, sizeof head, r->idx, st);
    if (rc == 0 && stasis_side_write(out, head, n) < 0) rc = -1;
    const char *p = st->in;
    for (int i = 0; rc == 0 && i < st->nsegs; i++) {
      char seg[32];
      int k = snprintf(seg, sizeof seg, "%c %u\n", st->segs[i].kind, st->segs[i].len);
      if (stasis_side_write(out, seg, k) < 0 || stasis_side_write(out, p, st->segs[i].len) < 0) rc = -1;
      p += st->segs[i].len;
    }
    if (rc == 0 && st->outlen && stasis_side_write(out, st->out, st->outlen) < 0) rc = -1;
    /* The running process continues with its bytes where they were. */
    if (ptyio_refill(m, s, st, err, sizeof err) < 0) {
      stasis_log("/dev/pts/%d: %s", r->idx, err);
      if (rc == 0) stasis_fail("/dev/pts/%d: %s", r->idx, err);
      rc = -1;
    }
    int one = 1;
    if (pkt_off) ioctl(m, TIOCPKT, &one);
  }
  if (s >= 0) close(s);
  fdu_free(st->out, st->outcap);
  fdu_free(st, sizeof *st);
  return rc;
}

static int pty_save_end(void) {
  if (nptys == 0) return 0;
  static struct survey sv;
  memset(&sv, 0, sizeof sv);
  sv.me = (int)syscall(SYS_getpid);
  sv.want = -1;
  if (fdu_each_host_fd(survey_fd, &sv) < 0) return -1;
  for (int i = 0; i < nptys; i++)
    if (sv.lowest[i] == 0) {
      stasis_fail("fd %d (/dev/pts/%d) is a terminal whose master side is not in the job (the user's terminal?): "
                  "not supported; only stdin, stdout and stderr may be such a terminal", ptys[i].first_fd, ptys[i].idx);
      return -1;
    }
  int out = -1, rc = 0;
  for (int i = 0; i < nptys && rc == 0; i++) {
    if (sv.lowest[i] != sv.me || ptys[i].master_fd < 0) continue;
    if (out < 0 && (out = stasis_side_open("ptys")) < 0) return -1;
    rc = drain(&ptys[i], out);
  }
  if (out >= 0 && stasis_side_close(out) < 0) rc = -1;
  return rc;
}

static int pty_restore(const struct stasis_fd *f, int cookie) {
  const struct pty_end *e = &ends[cookie];
  const struct pty_rec *p = &ptys[e->pty];
  char name[48], path[64];
  snprintf(name, sizeof name, "%s:%d", e->master ? "ptm" : "pts", p->idx);
  int from = fd_inherited(name), fd;
  if (from < 0) {
    stasis_fail("fd %d (%s): the restart loader made no pseudo-terminal for it (was the master holder's .ptys lost?)",
                f->fd, f->target);
    return -1;
  }
  if (e->master) fd = fcntl(from, F_DUPFD_CLOEXEC, 3);   /* reopening /dev/ptmx would make a new pair */
  else {
    snprintf(path, sizeof path, "/proc/self/fd/%d", from);
    fd = open(path, (e->flags & O_ACCMODE) | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
  }
  if (fd < 0 || fcntl(fd, F_SETFL, e->flags) < 0) {
    stasis_fail("cannot reopen fd %d (%s): %s", f->fd, f->target, strerror(errno));
    if (fd >= 0) close(fd);
    return -1;
  }
  return fd;
}

static void pty_resume(void) { nptys = nends = 0; }

/* A terminal on stdin/stdout/stderr is the job's own when its master is in
 * the job (a child run on a pty); the user's terminal is the restarter's. */
static int pty_stdio_in_job(const struct stasis_fd *f) {
  if (is_master_dev(f->rdev)) return 1;
  static struct survey sv;
  memset(&sv, 0, sizeof sv);
  sv.me = (int)syscall(SYS_getpid);
  sv.want = index_of(f);
  return sv.want >= 0 && fdu_each_host_fd(survey_fd, &sv) > 0;
}

static const struct stasis_fd_kind pty_kind = {
  .name = "pty", .order = 0, .match = pty_match, .save = pty_save, .save_end = pty_save_end,
  .restore = pty_restore, .resume = pty_resume, .stdio_in_job = pty_stdio_in_job,
};
STASIS_REGISTER static void pty_register(void) { stasis_register_fd_kind(&pty_kind); }
