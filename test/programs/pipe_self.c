/* Pipes whose ends are all in this process, each with bytes waiting in it:
 *  A  a non-blocking self-pipe (read end close-on-exec, 128 KiB capacity)
 *     written through a dup of its write end at fd 40 or above,
 *  B  a blocking pipe from a producer thread to a consumer thread,
 *  F  a FIFO (named pipe, argv[1]) with both ends opened here.
 * Each keeps a backlog of 16-byte numbered records; every ~100 ms records
 * go in and come out, and every record must arrive exactly once, in order.
 * Prints "tick N" and "BROKEN ..." if anything differs. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define REC 16
#define BACKLOG 200
#define PER_TICK 10

static void broken(const char *what) { printf("BROKEN %s\n", what); fflush(stdout); }

static void sleep_ms(int ms) {
  struct timespec ts = { 0, ms * 1000000L };
  while (nanosleep(&ts, &ts) < 0 && errno == EINTR) {}
}

static int put(int fd, long seq) {
  char r[REC + 1];
  snprintf(r, sizeof r, "%015ld\n", seq);
  for (size_t n = 0; n < REC;) {
    ssize_t w = write(fd, r + n, REC - n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return -1;
    n += w;
  }
  return 0;
}

/* Reads one record; -1 on error, else its number. */
static long get(int fd) {
  char r[REC + 1];
  for (size_t n = 0; n < REC;) {
    ssize_t g = read(fd, r + n, REC - n);
    if (g < 0 && errno == EINTR) continue;
    if (g <= 0) return -1;
    n += g;
  }
  r[REC] = 0;
  return atol(r);
}

static int pb[2];
static volatile long b_next_in, b_next_out, b_errors;

static void *producer(void *arg) {
  (void)arg;
  for (;;) {
    for (int i = 0; i < PER_TICK; i++)
      if (put(pb[1], b_next_in++) < 0) { b_errors++; broken("B write failed"); }
    sleep_ms(100);
  }
  return NULL;
}

static void *consumer(void *arg) {
  (void)arg;
  sleep_ms(300);   /* let a backlog build up */
  for (;;) {
    for (int i = 0; i < PER_TICK; i++) {
      long got = get(pb[0]);
      if (got != b_next_out) {
        char m[96];
        snprintf(m, sizeof m, "B got record %ld, expected %ld", got, (long)b_next_out);
        broken(m);
        b_errors++;
        if (got >= 0) b_next_out = got;
      }
      b_next_out++;
    }
    sleep_ms(100);
  }
  return NULL;
}

static void check_flags(int fd, int nonblock, int cloexec, const char *name) {
  int fl = fcntl(fd, F_GETFL), fdf = fcntl(fd, F_GETFD);
  char m[96];
  if (fl < 0 || fdf < 0) { snprintf(m, sizeof m, "%s (fd %d) is closed", name, fd); broken(m); return; }
  if (!!(fl & O_NONBLOCK) != nonblock) { snprintf(m, sizeof m, "%s (fd %d) O_NONBLOCK changed", name, fd); broken(m); }
  if (!!(fdf & FD_CLOEXEC) != cloexec) { snprintf(m, sizeof m, "%s (fd %d) FD_CLOEXEC changed", name, fd); broken(m); }
}

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  const char *fifo = argc > 1 ? argv[1] : "/tmp/stasis-pipe-self.fifo";
  int pa[2];
  if (pipe2(pa, O_NONBLOCK) < 0 || fcntl(pa[0], F_SETFD, FD_CLOEXEC) < 0) { perror("pipe"); return 1; }
  if (fcntl(pa[0], F_SETPIPE_SZ, 128 * 1024) < 0) { perror("F_SETPIPE_SZ"); return 1; }
  int pa_dup = fcntl(pa[1], F_DUPFD, 40);   /* 40 unless the environment left one there */
  if (pa_dup < 40) { perror("F_DUPFD 40"); return 1; }
  if (pipe(pb) < 0) { perror("pipe"); return 1; }
  unlink(fifo);
  if (mkfifo(fifo, 0600) < 0) { perror("mkfifo"); return 1; }
  int fr = open(fifo, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  int fw = open(fifo, O_WRONLY);
  if (fr < 0 || fw < 0) { perror("open fifo"); return 1; }
  unsigned char a_fds[4] = { (unsigned char)pa[0], (unsigned char)pa[1], (unsigned char)fr, (unsigned char)fw };

  long a_in = 0, a_out = 0, f_in = 0, f_out = 0;
  for (int i = 0; i < BACKLOG; i++) {
    if (put(pa_dup, a_in++) < 0 || put(fw, f_in++) < 0) { perror("backlog"); return 1; }
  }
  pthread_t t1, t2;
  pthread_create(&t1, NULL, producer, NULL);
  pthread_create(&t2, NULL, consumer, NULL);

  for (long tick = 0;; tick++) {
    for (int i = 0; i < PER_TICK; i++) {
      if (put(i % 2 ? pa[1] : pa_dup, a_in++) < 0) broken("A write failed");
      if (put(fw, f_in++) < 0) broken("F write failed");
    }
    for (int i = 0; i < PER_TICK; i++) {
      long g = get(a_fds[0]);
      char m[96];
      if (g != a_out) { snprintf(m, sizeof m, "A got record %ld, expected %ld", g, a_out); broken(m); if (g >= 0) a_out = g; }
      a_out++;
      g = get(a_fds[2]);
      if (g != f_out) { snprintf(m, sizeof m, "F got record %ld, expected %ld", g, f_out); broken(m); if (g >= 0) f_out = g; }
      f_out++;
    }
    check_flags(pa[0], 1, 1, "A read end");
    check_flags(pa[1], 1, 0, "A write end");
    check_flags(pa_dup, 1, 0, "A write end dup");
    check_flags(fr, 1, 1, "F read end");
    check_flags(fw, 0, 0, "F write end");
    check_flags(pb[0], 0, 0, "B read end");
    check_flags(pb[1], 0, 0, "B write end");
    if (fcntl(pa[0], F_GETPIPE_SZ) != 128 * 1024) broken("A lost its 128 KiB capacity");
    /* A's backlog is all there, and nothing more. */
    long extra = get(a_fds[0]);
    if (extra != a_out) broken("A backlog differs");
    else a_out++;
    put(pa[1], a_in++);
    printf("tick %ld a=%ld b=%ld f=%ld\n", tick, a_out, (long)b_next_out, f_out);
    sleep_ms(100);
  }
}
