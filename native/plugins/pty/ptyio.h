/* What a pseudo-terminal pair holds and how it is put back into a pair,
 * shared by plugins/pty (the running process gets its bytes back right
 * after saving them) and the restart loader (a new pair gets them).
 *
 * Input toward the slave's reader sits in the slave's line discipline,
 * already processed (echoed, CR mapped, erased): it is kept as segments,
 * one per canonical line (with how that line ended) or one raw run, and
 * written back through the master with every input processing switched
 * off, so it arrives unchanged and with the same line boundaries. The
 * line discipline works asynchronously: each segment is echoed back (echo
 * on, output processing off, for this moment only) and the echo awaited
 * and discarded (a line ended by VEOF is awaited in the count of complete
 * lines), so the settings change only once the bytes are in.
 * Output toward the master is written back through the slave with output
 * processing off. Then the program's own settings are put back. */
#ifndef STASIS_PTYIO_H
#define STASIS_PTYIO_H
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

/* The slave's line discipline holds this many bytes (N_TTY_BUF_SIZE - 1);
 * beyond that, input waits unprocessed, where it cannot be put back. */
#define PTY_INPUT_MAX 4095
#define PTY_MAX_SEGS PTY_INPUT_MAX
#define PTY_WAIT_MS 5000

enum { PTY_SEG_LINE = 'l',   /* a canonical line, its terminator included */
       PTY_SEG_EOF = 'e',    /* a canonical line ended by VEOF (not stored) */
       PTY_SEG_RAW = 'r' };  /* bytes without line structure (raw mode, or a line being typed) */

struct pty_seg { char kind; unsigned short len; };

struct pty_state {
  struct termios tio;
  struct winsize ws;
  int locked, packet;
  long sid, fg;              /* virtual session and foreground group; 0: none */
  int nsegs;
  struct pty_seg segs[PTY_MAX_SEGS];
  size_t inlen, outlen, outcap;
  char in[PTY_INPUT_MAX];
  char *out;                 /* toward the master */
};

static inline int ptyio_wait(int fd, short ev) {
  struct pollfd p = { fd, ev, 0 };
  int r;
  while ((r = poll(&p, 1, PTY_WAIT_MS)) < 0 && errno == EINTR) {}
  return r > 0 ? 0 : -1;
}

static inline int ptyio_write(int fd, const char *buf, size_t n) {
  while (n > 0) {
    ssize_t w = write(fd, buf, n);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0 && errno == EAGAIN && ptyio_wait(fd, POLLOUT) == 0) continue;
    if (w <= 0) return -1;
    buf += w; n -= w;
  }
  return 0;
}

/* Reads and drops n bytes of echo from the master. */
static inline int ptyio_swallow(int m, size_t n) {
  char buf[512];
  while (n > 0) {
    if (ptyio_wait(m, POLLIN) < 0) return -1;
    ssize_t r = read(m, buf, n < sizeof buf ? n : sizeof buf);
    if (r < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (r <= 0) return -1;
    n -= (size_t)r;
  }
  return 0;
}

/* Waits until the slave's complete canonical lines hold `want` bytes: a
 * VEOF ending a line is not echoed, so its echo cannot tell it arrived. */
static inline int ptyio_wait_lines(int s, size_t want) {
  for (int ms = 0; ms < PTY_WAIT_MS; ms++) {
    int have = 0;
    if (ioctl(s, TIOCINQ, &have) < 0) return -1;
    if ((size_t)have >= want) return 0;
    struct timespec t = { 0, 1000000 };
    nanosleep(&t, NULL);
  }
  errno = ETIMEDOUT;
  return -1;
}

/* A byte the input does not contain, to end EOF-terminated lines with. */
static inline unsigned char ptyio_unused_byte(const struct pty_state *s) {
  for (int b = 1; b < 256; b++)
    if (!memchr(s->in, b, s->inlen)) return (unsigned char)b;
  return 4;
}

/* Puts st's bytes into the pair (m, s) and gives the slave st's settings.
 * Returns 0, or -1 with a message in err. */
static inline int ptyio_refill(int m, int s, const struct pty_state *st, char *err, size_t errcap) {
  struct termios t = st->tio;
  t.c_iflag = 0;
  t.c_oflag = 0;
  t.c_lflag = (st->tio.c_lflag & (ICANON | EXTPROC)) | ECHO;  /* ICANON as is: toggling it regroups lines */
  memset(t.c_cc, 0, sizeof t.c_cc);                             /* no special character */
  t.c_cc[VMIN] = 1;
  unsigned char eof = ptyio_unused_byte(st);
  const char *p = st->in;
  size_t in_lines = 0;   /* bytes of complete lines so far */
  for (int i = 0; i < st->nsegs; i++) {
    const struct pty_seg *g = &st->segs[i];
    t.c_cc[VEOL] = g->kind == PTY_SEG_LINE && g->len && p[g->len - 1] != '\n' ? p[g->len - 1] : 0;
    t.c_cc[VEOF] = eof;   /* the same throughout: a VEOF still on its way keeps its meaning */
    if (tcsetattr(s, TCSANOW, &t) < 0 || ptyio_write(m, p, g->len) < 0 ||
        (g->kind == PTY_SEG_EOF && ptyio_write(m, (const char *)&eof, 1) < 0)) {
      snprintf(err, errcap, "cannot put input back: %s", strerror(errno));
      return -1;
    }
    if (g->kind != PTY_SEG_RAW) in_lines += g->len;
    if (ptyio_swallow(m, g->len) < 0 || (g->kind == PTY_SEG_EOF && ptyio_wait_lines(s, in_lines) < 0)) {
      snprintf(err, errcap, "input put back did not arrive: %s", strerror(errno));
      return -1;
    }
    p += g->len;
  }
  if (st->nsegs && st->segs[st->nsegs - 1].kind == PTY_SEG_EOF && st->segs[st->nsegs - 1].len == 0) {
    /* An empty line ended by VEOF changes no count: give it a moment. */
    struct timespec moment = { 0, 20000000 };
    nanosleep(&moment, NULL);
  }
  if (st->outlen && ptyio_write(s, st->out, st->outlen) < 0) {
    snprintf(err, errcap, "cannot put %zu bytes of output back: %s", st->outlen, strerror(errno));
    return -1;
  }
  if (tcsetattr(s, TCSANOW, &st->tio) < 0) {
    snprintf(err, errcap, "cannot set the terminal's settings: %s", strerror(errno));
    return -1;
  }
  return 0;
}

/* The record in IMAGE.ptys (docs/image-format.md): a header line, then
 * per segment "KIND LEN\n" and its bytes, then the output bytes. */
static inline int ptyio_header(char *buf, size_t cap, int idx, const struct pty_state *st) {
  int n = snprintf(buf, cap, "pty %d %d %d %u %u %u %u %ld %ld %d %zu ", idx, st->locked, st->packet,
                   st->ws.ws_row, st->ws.ws_col, st->ws.ws_xpixel, st->ws.ws_ypixel, st->sid, st->fg,
                   st->nsegs, st->outlen);
  const unsigned char *t = (const unsigned char *)&st->tio;
  for (size_t i = 0; i < sizeof st->tio && n + 3 < (int)cap; i++) n += snprintf(buf + n, cap - n, "%02x", t[i]);
  if (n + 2 < (int)cap) { buf[n++] = '\n'; buf[n] = 0; }
  return n;
}
#endif
