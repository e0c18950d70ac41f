/* A parent drives a child on a pseudo-terminal, as script or expect do.
 * The child is a session leader with the slave as its controlling terminal
 * and stdin/stdout/stderr, in the foreground. The parent writes numbered
 * lines "msg K" to the master, ended by a newline, by VEOL ('#') or by
 * VEOF (^D), half a line at a time now and then, at
 * most 40 ahead of the child, which reads slowly, so input is queued at any
 * moment; it reads the child's answers only every 200 ms, in packet mode
 * (TIOCPKT), so output is queued too. The child alternates every 50 messages between canonical
 * mode (where each read must return exactly one line) and raw mode; every
 * 40 messages the parent resizes the window and sends "size R C", and the
 * child checks the size and that its SIGWINCH handler ran. Before each
 * answer the child checks its settings (termios), session, controlling
 * terminal and foreground group. It answers "ack K mode rows cols tty";
 * the parent prints each answer, and "BROKEN ..." when a number is
 * missing, repeated or out of order, or the child reported a problem.
 * `pty shell`: the session leader acts as a shell with job control: the
 * reader is its child, in a process group of its own, in the foreground.
 * `pty outsider`: a process outside the job (not preloaded) holds the
 * master while this one holds the slave, prints "ready" and waits.
 * `pty stdio`: run on someone else's terminal (stdin/stdout/stderr are
 * the slave of a pty outside the job), prints "tick N TTY" every 50 ms,
 * TTY being where stdout is now. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>
#include "outsider.h"

#define AHEAD 40

static void sleep_ms(int ms) {
  struct timespec ts = { 0, ms * 1000000L };
  while (nanosleep(&ts, &ts) < 0 && errno == EINTR) {}
}

static int write_all(int fd, const char *s, size_t n) {
  while (n > 0) {
    ssize_t w = write(fd, s, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return -1;
    s += w; n -= w;
  }
  return 0;
}

static int rows_for(long k) { return 20 + (int)((k / 40) % 10); }
static int cols_for(long k) { return 70 + (int)((k / 40) % 7); }

/* --- child: on the slave --- */

static volatile sig_atomic_t winches;
static void on_winch(int sig) { (void)sig; winches++; }

static struct termios want;
static int canonical, job_control;

static void set_mode(int canon) {
  struct termios t;
  tcgetattr(0, &t);
  t.c_iflag = ICRNL;
  t.c_oflag = OPOST | ONLCR;
  t.c_lflag = canon ? (ICANON | ISIG | IEXTEN) : ISIG;   /* no echo */
  t.c_cc[VINTR] = 0x18;
  t.c_cc[VERASE] = 0x08;
  t.c_cc[VEOL] = '#';
  t.c_cc[VMIN] = 1;
  t.c_cc[VTIME] = 0;
  tcsetattr(0, TCSANOW, &t);
  tcgetattr(0, &want);
  canonical = canon;
}

static void say(const char *fmt, long a, long b) {
  char line[256];
  int n = snprintf(line, sizeof line, fmt, a, b);
  write_all(1, line, n);
}

static void broken(const char *why, long k) {
  char line[256];
  int n = snprintf(line, sizeof line, "child: BROKEN %s (at msg %ld)\n", why, k);
  write_all(1, line, n);
}

/* What must hold after any number of restarts. */
static int check(const char **why) {
  struct termios t;
  *why = NULL;
  if (tcgetattr(0, &t) < 0) *why = "tcgetattr failed";
  else if (t.c_iflag != want.c_iflag || t.c_oflag != want.c_oflag || t.c_lflag != want.c_lflag ||
           t.c_cflag != want.c_cflag || memcmp(t.c_cc, want.c_cc, NCCS) != 0) *why = "termios changed";
  else if (getsid(0) != (job_control ? getppid() : getpid())) *why = "not in the session it was in";
  else if (tcgetsid(0) != getsid(0)) *why = "the pty is not my controlling terminal";
  else if (tcgetpgrp(0) != getpgrp()) *why = "not in the foreground";
  return *why ? -1 : 0;
}

static void child(void) {
  signal(SIGWINCH, on_winch);
  set_mode(1);
  long next = 1, seen_winches = 0;
  char buf[8192], tty[64] = "", now[64];
  size_t have = 0;
  int just_switched = 0;
  for (;;) {
    /* Slowly in raw mode too (a read there takes whatever is queued): the
     * parent stays ahead, so input is queued at any moment. */
    ssize_t r = read(0, buf + have, canonical ? sizeof buf - have - 2 : 8);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) { say("child: read ended (%ld) %ld\n", (long)r, errno); _exit(1); }
    char *got = buf + have;
    if (canonical && !just_switched) {
      /* One line per read, ended by '\n' or VEOL ('#'), or by VEOF (^D,
       * which the reader does not get). */
      int ends = 0, terminated = got[r - 1] == '\n' || got[r - 1] == '#';
      for (ssize_t i = 0; i < r; i++) ends += got[i] == '\n' || got[i] == '#' || got[i] == 4;
      if (ends != terminated)
        say("child: BROKEN canonical read of %ld bytes is not one line (after msg %ld)\n", (long)r, next - 1);
      if (!terminated) got[r++] = '\n';
    }
    /* Raw mode sees VEOL and VEOF as bytes, and a NUL where VEOF ended a
     * line queued while the terminal was still canonical. */
    for (ssize_t i = 0; i < r; i++) if (got[i] == '#' || got[i] == 4 || (!canonical && got[i] == 0)) got[i] = '\n';
    just_switched = 0;
    have += r;
    char *nl;
    while ((nl = memchr(buf, '\n', have))) {
      *nl = 0;
      long k, rows, cols;
      struct winsize ws;
      ioctl(0, TIOCGWINSZ, &ws);
      const char *why;
      if (check(&why) < 0) broken(why, next);
      if (sscanf(buf, "size %ld %ld", &rows, &cols) == 2) {
        if (ws.ws_row != rows || ws.ws_col != cols) say("child: BROKEN window is not %ldx%ld\n", rows, cols);
        if (winches == seen_winches) say("child: BROKEN no SIGWINCH for the resize to %ldx%ld\n", rows, cols);
        seen_winches = winches;
      } else if (sscanf(buf, "msg %ld", &k) == 1) {
        if (k != next) say("child: BROKEN got msg %ld, expected %ld\n", k, next);
        next = k + 1;
        ssize_t l = readlink("/proc/self/fd/0", now, sizeof now - 1);
        now[l > 0 ? l : 0] = 0;
        if (strcmp(now, tty) != 0) {   /* a restart may give another number: /dev/tty must still work */
          int t = open("/dev/tty", O_RDWR | O_NOCTTY);
          if (t < 0) say("child: BROKEN cannot open /dev/tty (msg %ld) %ld\n", k, errno);
          else close(t);
          snprintf(tty, sizeof tty, "%s", now);
        }
        char line[256];
        int n = snprintf(line, sizeof line, "ack %ld %s %dx%d %s\n", k, canonical ? "canon" : "raw", ws.ws_row,
                         ws.ws_col, tty);
        write_all(1, line, n);
        if (k % 50 == 0) { set_mode(!canonical); just_switched = 1; }
      } else {
        broken("unexpected line", next - 1);
      }
      have -= (size_t)(nl + 1 - buf);
      memmove(buf, nl + 1, have);
    }
    sleep_ms(15);
  }
}

/* The session leader runs the reader as a foreground job, as a shell with
 * job control does, and waits for it. */
static void shell(void) {
  signal(SIGTTOU, SIG_IGN);
  pid_t job = fork();
  if (job == 0) {
    setpgid(0, 0);
    while (tcgetpgrp(0) != getpgrp()) sleep_ms(1);
    return;
  }
  setpgid(job, job);
  tcsetpgrp(0, job);
  /* waitpid(-1): a waitpid(job) blocked at a checkpoint is restarted by the
   * kernel with the pid from before the restart (known limit of pid
   * translation). */
  int status;
  while (waitpid(-1, &status, 0) < 0 && errno == EINTR) {}
  _exit(3);
}

/* --- parent: on the master --- */

static long acked;
static char pending[16384];
static size_t npending;

static void read_answers(int m) {
  for (;;) {
    struct pollfd p = { m, POLLIN, 0 };
    if (poll(&p, 1, 0) <= 0) return;
    /* Packet mode: each read starts with a status byte, 0 before data. */
    ssize_t r = read(m, pending + npending, sizeof pending - npending - 1);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return;
    if (pending[npending] != TIOCPKT_DATA) continue;   /* a status change only */
    memmove(pending + npending, pending + npending + 1, (size_t)r - 1);
    npending += (size_t)r - 1;
    char *nl;
    while ((nl = memchr(pending, '\n', npending))) {
      *nl = 0;
      if (nl > pending && nl[-1] == '\r') nl[-1] = 0;
      long k;
      if (sscanf(pending, "ack %ld", &k) == 1) {
        if (k != acked + 1) printf("BROKEN parent: ack %ld after %ld\n", k, acked);
        acked = k;
      }
      printf("%s\n", pending);
      fflush(stdout);
      npending -= (size_t)(nl + 1 - pending);
      memmove(pending, nl + 1, npending);
    }
  }
}


/* The master goes to `sleep`, started without libstasis: not in the job. */
static int outsider(void) {
  int m = posix_openpt(O_RDWR | O_NOCTTY);
  if (m < 0 || grantpt(m) < 0 || unlockpt(m) < 0) { perror("pty"); return 1; }
  int s = open(ptsname(m), O_RDWR | O_NOCTTY);
  pid_t pid = start_outsider();
  close(m);
  printf("ready: slave on fd %d, master in process %d\n", s, (int)pid);
  for (;;) pause();
}

static int on_outside_terminal(void) {
  for (long n = 1;; n++) {
    const char *tty = ttyname(1);
    printf("tick %ld %s\n", n, tty && isatty(0) ? tty : "not-a-terminal");
    sleep_ms(50);
  }
  return 0;
}

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  if (argc > 1 && strcmp(argv[1], "stdio") == 0) return on_outside_terminal();
  job_control = argc > 1 && strcmp(argv[1], "shell") == 0;
  if (argc > 1 && strcmp(argv[1], "outsider") == 0) return outsider();
  int m = posix_openpt(O_RDWR | O_NOCTTY);
  if (m < 0 || grantpt(m) < 0 || unlockpt(m) < 0) { perror("pty"); return 1; }
  struct winsize ws = { (unsigned short)rows_for(0), (unsigned short)cols_for(0), 0, 0 };
  ioctl(m, TIOCSWINSZ, &ws);
  const char *name = ptsname(m);
  pid_t pid = fork();
  if (pid < 0) { perror("fork"); return 1; }
  if (pid == 0) {
    close(m);
    setsid();
    int s = open(name, O_RDWR);   /* a session leader's first terminal becomes its controlling one */
    if (s < 0 || ioctl(s, TIOCSCTTY, 0) < 0 || dup2(s, 0) < 0 || dup2(s, 1) < 0 || dup2(s, 2) < 0) _exit(2);
    if (s > 2) close(s);
    if (job_control) shell();
    child();
  }
  int one = 1;
  ioctl(m, TIOCPKT, &one);
  printf("child %d on %s\n", (int)pid, name);
  long k = 0;
  struct timespec last_read = { 0, 0 };
  for (;;) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    if ((now.tv_sec - last_read.tv_sec) * 1000 + (now.tv_nsec - last_read.tv_nsec) / 1000000 >= 200) {
      int packet = 0;
      if (ioctl(m, TIOCGPKT, &packet) < 0 || !packet) printf("BROKEN parent: the master left packet mode\n");
      read_answers(m);
      last_read = now;
    }
    if (k - acked >= AHEAD) { sleep_ms(10); continue; }
    k++;
    char line[64];
    if (k % 40 == 0) {
      ws = (struct winsize){ (unsigned short)rows_for(k), (unsigned short)cols_for(k), 0, 0 };
      ioctl(m, TIOCSWINSZ, &ws);
      int n = snprintf(line, sizeof line, "size %d %d\n", ws.ws_row, ws.ws_col);
      write_all(m, line, n);
    }
    char end = k % 7 == 3 ? '#' : k % 11 == 5 ? 4 : '\n';   /* VEOL, VEOF (^D) or newline */
    int n = snprintf(line, sizeof line, "msg %ld%c", k, end);
    int half = k % 3 == 0 ? n / 2 : n;   /* sometimes a line is typed in two goes */
    write_all(m, line, half);
    if (half < n) { sleep_ms(3); write_all(m, line + half, n - half); }
    sleep_ms(2);
  }
}
