/* eventfds whose counters must survive exactly:
 *  S  EFD_SEMAPHORE | EFD_NONBLOCK, holding a backlog of 1000,
 *  C  a plain counter (close-on-exec) added to every tick, read every 5th,
 *  W  a blocking eventfd a waiter thread sleeps in read() on, woken each tick.
 * Prints "tick N" every ~100 ms and "BROKEN ..." if a value or flag differs. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

static void broken(const char *m) { printf("BROKEN %s\n", m); fflush(stdout); }
static void sleep_ms(int ms) {
  struct timespec ts = { 0, ms * 1000000L };
  while (nanosleep(&ts, &ts) < 0 && errno == EINTR) {}
}

static uint64_t fdinfo_count(int fd, int *sem) {
  char p[64], b[1024];
  snprintf(p, sizeof p, "/proc/self/fdinfo/%d", fd);
  FILE *f = fopen(p, "r");
  if (!f) return ~0ull;
  size_t n = fread(b, 1, sizeof b - 1, f);
  fclose(f);
  b[n] = 0;
  char *c = strstr(b, "eventfd-count:"), *s = strstr(b, "eventfd-semaphore:");
  if (sem) *sem = s ? atoi(s + 18) : -1;
  return c ? strtoull(c + 14, NULL, 16) : ~0ull;
}

static int w;
static volatile long woken;

static void *waiter(void *arg) {
  (void)arg;
  for (;;) {
    uint64_t v;
    ssize_t r = read(w, &v, sizeof v);
    if (r != sizeof v) { if (r < 0 && errno == EINTR) continue; broken("W read failed"); sleep_ms(100); continue; }
    woken += (long)v;
  }
  return NULL;
}

static void flags(int fd, int nonblock, int cloexec, const char *name) {
  int fl = fcntl(fd, F_GETFL), fdf = fcntl(fd, F_GETFD);
  char m[96];
  if (fl < 0 || fdf < 0) { snprintf(m, sizeof m, "%s closed", name); broken(m); return; }
  if (!!(fl & O_NONBLOCK) != nonblock || !!(fdf & FD_CLOEXEC) != cloexec) { snprintf(m, sizeof m, "%s flags changed", name); broken(m); }
}

int main(void) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  int s = eventfd(1000, EFD_SEMAPHORE | EFD_NONBLOCK);
  int c = eventfd(0, EFD_CLOEXEC);
  w = eventfd(0, 0);
  if (s < 0 || c < 0 || w < 0) { perror("eventfd"); return 1; }
  pthread_t t;
  pthread_create(&t, NULL, waiter, NULL);
  uint64_t s_expect = 1000, c_expect = 0;
  char m[128];
  for (long tick = 0;; tick++) {
    /* S: add 3, take 3 one at a time; the backlog stays. */
    uint64_t three = 3, v;
    if (write(s, &three, 8) != 8) broken("S write");
    for (int i = 0; i < 3; i++)
      if (read(s, &v, 8) != 8 || v != 1) broken("S semaphore read did not give 1");
    int sem = 0;
    uint64_t sv = fdinfo_count(s, &sem);
    if (sv != s_expect) { snprintf(m, sizeof m, "S count %llu, expected %llu", (unsigned long long)sv, (unsigned long long)s_expect); broken(m); s_expect = sv; }
    if (sem != 1) broken("S lost EFD_SEMAPHORE");
    /* C: accumulates tick+1 each tick, read out every 5th. */
    uint64_t add = (uint64_t)tick + 1;
    if (write(c, &add, 8) != 8) broken("C write");
    c_expect += add;
    if (tick % 5 == 4) {
      if (read(c, &v, 8) != 8 || v != c_expect) {
        snprintf(m, sizeof m, "C read %llu, expected %llu", (unsigned long long)v, (unsigned long long)c_expect);
        broken(m);
      }
      c_expect = 0;
    }
    /* W: the waiter sees every wake-up. */
    long before = woken;
    uint64_t one = 1;
    if (write(w, &one, 8) != 8) broken("W write");
    for (int i = 0; i < 100 && woken == before; i++) sleep_ms(1);
    if (woken != before + 1) { snprintf(m, sizeof m, "W waiter woke %ld times, expected %ld", woken, before + 1); broken(m); }
    flags(s, 1, 0, "S");
    flags(c, 0, 1, "C");
    flags(w, 0, 0, "W");
    printf("tick %ld woken=%ld\n", tick, woken);
    sleep_ms(100);
  }
}
