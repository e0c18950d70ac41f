/* Pseudo-terminal pairs of a process tree. At SAVE the job's process that
 * drained a pair wrote, beside its image, "IMAGE.ptys": per pair its old
 * number, settings, session and foreground group (virtual ids) and the
 * bytes queued both ways (plugins/pty, docs/image-format.md). Before
 * anything forks, the loader makes one new pair per record, fills it
 * (plugins/pty/ptyio.h) and keeps both ends; every forked loader inherits
 * them, and each restored process learns them through
 * restart_info.inherited as "ptm:N=FD pts:N=FD" (N: the old number). After
 * the fork, the session leader of a pair's old session makes it its
 * controlling terminal again, and the leader of its old foreground group
 * takes the foreground (ptys_take_terminal, called by tree.c). */
#include "ptyio.h"
#include "../../restart/side.h"
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_PTYS 256
static struct made { int idx, slave; long sid, fg; } made[MAX_PTYS];
static int nmade;

static int parse_header(FILE *f, int *idx, struct pty_state *st) {
  unsigned row, col, xp, yp;
  char hex[2 * sizeof st->tio + 2];
  if (fscanf(f, "pty %d %d %d %u %u %u %u %ld %ld %d %zu %130s", idx, &st->locked, &st->packet, &row, &col, &xp, &yp,
             &st->sid, &st->fg, &st->nsegs, &st->outlen, hex) != 12 || fgetc(f) != '\n')
    return -1;
  if (strlen(hex) != 2 * sizeof st->tio || st->nsegs < 0 || st->nsegs > PTY_MAX_SEGS) return -1;
  st->ws = (struct winsize){ (unsigned short)row, (unsigned short)col, (unsigned short)xp, (unsigned short)yp };
  unsigned char *t = (unsigned char *)&st->tio;
  for (size_t i = 0; i < sizeof st->tio; i++) {
    unsigned b;
    if (sscanf(hex + 2 * i, "%2x", &b) != 1) return -1;
    t[i] = (unsigned char)b;
  }
  return 0;
}

static int parse_data(FILE *f, struct pty_state *st) {
  for (int i = 0; i < st->nsegs; i++) {
    char kind;
    unsigned len;
    if (fscanf(f, "%c %u", &kind, &len) != 2 || fgetc(f) != '\n' || st->inlen + len > PTY_INPUT_MAX ||
        fread(st->in + st->inlen, 1, len, f) != len)
      return -1;
    st->segs[i] = (struct pty_seg){ kind, (unsigned short)len };
    st->inlen += len;
  }
  st->out = st->outlen ? malloc(st->outlen) : NULL;
  return st->outlen && (!st->out || fread(st->out, 1, st->outlen, f) != st->outlen) ? -1 : 0;
}

static int make_pair(const char *file, int idx, const struct pty_state *st, char *out, size_t cap) {
  char err[256];
  int one = 1;
  int m = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC), s = -1;
  if (m < 0 || unlockpt(m) < 0 || (s = ioctl(m, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC)) < 0) {
    fprintf(stderr, "stasis-restart: %s: cannot make a pseudo-terminal for /dev/pts/%d: %s\n", file, idx, strerror(errno));
    return -1;
  }
  if (ioctl(m, TIOCSWINSZ, &st->ws) < 0 || ptyio_refill(m, s, st, err, sizeof err) < 0 ||
      (st->packet && ioctl(m, TIOCPKT, &one) < 0) || (st->locked && ioctl(m, TIOCSPTLCK, &one) < 0)) {
    fprintf(stderr, "stasis-restart: %s: /dev/pts/%d: %s\n", file, idx, errno ? strerror(errno) : err);
    return -1;
  }
  size_t used = strlen(out);
  if (snprintf(out + used, cap - used, "%sptm:%d=%d pts:%d=%d", used ? " " : "", idx, m, idx, s) >= (int)(cap - used)) {
    fprintf(stderr, "stasis-restart: too many descriptors to hand over\n");
    return -1;
  }
  made[nmade++] = (struct made){ idx, s, st->sid, st->fg };
  return 0;
}

/* One image's record file (absent: the process drained no pair), its
 * checksum verified first (side.c). */
static int read_records(const char *image, char *out, size_t cap) {
  char path[4200], *data;
  size_t len;
  snprintf(path, sizeof path, "%s.ptys", image);
  if (side_file_read(image, "ptys", &data, &len) < 0) return -1;
  if (!data || len == 0) { free(data); return 0; }
  FILE *f = fmemopen(data, len, "r");
  if (!f) {
    fprintf(stderr, "stasis-restart: %s: %s\n", path, strerror(errno));
    free(data);
    return -1;
  }
  int rc = 0, idx, c;
  while (rc == 0 && (c = fgetc(f)) != EOF) {
    ungetc(c, f);
    struct pty_state *st = calloc(1, sizeof *st);
    if (!st || parse_header(f, &idx, st) < 0 || parse_data(f, st) < 0) {
      fprintf(stderr, "stasis-restart: %s: malformed\n", path);
      rc = -1;
    } else if (nmade >= MAX_PTYS) {
      fprintf(stderr, "stasis-restart: %s: more than %d pseudo-terminals\n", path, MAX_PTYS);
      rc = -1;
    } else {
      errno = 0;
      rc = make_pair(path, idx, st, out, cap);
    }
    if (st) free(st->out);
    free(st);
  }
  fclose(f);
  free(data);
  return rc;
}

int ptys_prepare(int count, const char *const *images, char *out, size_t cap) {
  for (int i = 0; i < count; i++)
    if (read_records(images[i], out, cap) < 0) return -1;
  return 0;
}

/* In the forked loader of process `vpid`, once its session and group are
 * made: the terminals it led or had in the foreground. */
void ptys_take_terminal(long vpid, long pgid, long sid) {
  for (int i = 0; i < nmade; i++) {
    const struct made *p = &made[i];
    if (p->sid == vpid && sid == vpid && ioctl(p->slave, TIOCSCTTY, 0) < 0)
      fprintf(stderr, "stasis-restart: /dev/pts/%d: cannot make it the controlling terminal again: %s\n", p->idx,
              strerror(errno));
    pid_t tty_sid;
    if (p->fg != vpid || pgid != vpid || p->sid != sid || ioctl(p->slave, TIOCGSID, &tty_sid) < 0 ||
        tty_sid != getsid(0) || tcgetpgrp(p->slave) == getpgrp())
      continue;
    sigset_t ttou, old;   /* a background group may take the foreground: no SIGTTOU */
    sigemptyset(&ttou);
    sigaddset(&ttou, SIGTTOU);
    sigprocmask(SIG_BLOCK, &ttou, &old);
    if (tcsetpgrp(p->slave, getpgrp()) < 0)
      fprintf(stderr, "stasis-restart: /dev/pts/%d: cannot give the foreground back: %s\n", p->idx, strerror(errno));
    sigprocmask(SIG_SETMASK, &old, NULL);
  }
}
