/* An epoll interest list that must come back with the same events and data:
 *  T  a 100 ms timerfd (level), paces the loop,
 *  P  a pipe read end (level): one byte per tick, read back,
 *  E  an eventfd, edge-triggered, never read: reported once per write,
 *  O  an eventfd, EPOLLONESHOT, fired once at start: disarmed, never again,
 * and a second epoll a thread waits on in epoll_wait() for an eventfd W.
 * The main loop first waits on an outer epoll of a lower number that
 * watches the first one (nested, as UCX does in MPICH's ranks).
 * After each T expiry, exactly {P, E} must be ready, then nothing.
 * Prints "tick N"; "BROKEN ..." when readiness or data differ. */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <fcntl.h>
#include <time.h>
#include <unistd.h>

#define DT 0x7100000000000001ull
#define DP 0x7200000000000002ull
#define DE 0x7300000000000003ull
#define DO 0x7400000000000004ull
#define DW 0x7500000000000005ull
#define DX 0x7600000000000006ull

static void broken(const char *m) { printf("BROKEN %s\n", m); fflush(stdout); }

static int ep2, w;
static volatile long woken;

static void *waiter(void *arg) {
  (void)arg;
  for (;;) {
    struct epoll_event ev;
    int n = epoll_wait(ep2, &ev, 1, -1);
    if (n < 0 && errno == EINTR) continue;
    if (n != 1 || ev.data.u64 != DW || !(ev.events & EPOLLIN)) { broken("W epoll_wait"); continue; }
    uint64_t v;
    if (read(w, &v, 8) == 8) woken += (long)v;
  }
  return NULL;
}

int main(void) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  int outer = epoll_create1(0);
  int ep = epoll_create1(EPOLL_CLOEXEC);
  ep2 = epoll_create1(0);
  int t = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK);
  int p[2];
  int e = eventfd(0, EFD_NONBLOCK), o = eventfd(0, EFD_NONBLOCK);
  w = eventfd(0, EFD_NONBLOCK);
  if (outer < 0 || ep < 0 || ep2 < 0 || t < 0 || pipe2(p, O_NONBLOCK) < 0 || e < 0 || o < 0 || w < 0) { perror("setup"); return 1; }
  struct itimerspec per = { { 0, 100000000 }, { 0, 100000000 } };
  timerfd_settime(t, 0, &per, NULL);
  struct epoll_event ev;
  ev = (struct epoll_event){ EPOLLIN, { .u64 = DT } }; epoll_ctl(ep, EPOLL_CTL_ADD, t, &ev);
  ev = (struct epoll_event){ EPOLLIN, { .u64 = DP } }; epoll_ctl(ep, EPOLL_CTL_ADD, p[0], &ev);
  ev = (struct epoll_event){ EPOLLIN | EPOLLET, { .u64 = DE } }; epoll_ctl(ep, EPOLL_CTL_ADD, e, &ev);
  ev = (struct epoll_event){ EPOLLIN | EPOLLONESHOT, { .u64 = DO } }; epoll_ctl(ep, EPOLL_CTL_ADD, o, &ev);
  ev = (struct epoll_event){ EPOLLIN, { .u64 = DW } }; epoll_ctl(ep2, EPOLL_CTL_ADD, w, &ev);
  ev = (struct epoll_event){ EPOLLIN, { .u64 = DX } }; epoll_ctl(outer, EPOLL_CTL_ADD, ep, &ev);
  uint64_t one = 1;
  if (write(o, &one, 8) != 8) return 1;
  pthread_t th;
  pthread_create(&th, NULL, waiter, NULL);
  char m[160];
  int o_fired = 0;   /* its one shot: reported once, at the start */
  for (long tick = 0;;) {
    /* 1: wait for the timer; anything else seen meanwhile must be known. */
    int got_t = 0;
    while (!got_t) {
      struct epoll_event evs[8], xev;
      int nx = epoll_wait(outer, &xev, 1, 1000);
      if (nx < 0 && errno == EINTR) continue;
      if (nx == 0) { broken("the outer epoll did not report the inner one within 1 s"); continue; }
      if (nx == 1 && xev.data.u64 != DX) broken("the outer epoll reported unknown data");
      int n = epoll_wait(ep, evs, 8, 1000);
      if (n < 0 && errno == EINTR) continue;
      if (n == 0) { broken("T did not fire within 1 s"); continue; }
      for (int i = 0; i < n; i++) {
        uint64_t d = evs[i].data.u64;
        if (d == DT) { uint64_t x; if (read(t, &x, 8) == 8) got_t = 1; }
        else if (d == DO) { if (o_fired++) broken("O reported after its one shot"); }
        else if (d == DP) { char c; while (read(p[0], &c, 1) == 1) {} }
        else if (d != DE) { snprintf(m, sizeof m, "unknown data %llx", (unsigned long long)d); broken(m); }
      }
    }
    /* 2: one byte into P, one write to E (and O, disarmed): exactly P and E. */
    if (write(p[1], "x", 1) != 1 || write(e, &one, 8) != 8 || write(o, &one, 8) != 8) broken("write");
    uint64_t x;
    if (read(o, &x, 8) != 8) broken("O read");
    struct epoll_event evs[8];
    int n = epoll_wait(ep, evs, 8, 0);
    int seen_p = 0, seen_e = 0;
    for (int i = 0; i < n; i++) {
      if (evs[i].data.u64 == DP && evs[i].events == EPOLLIN) seen_p++;
      else if (evs[i].data.u64 == DE && evs[i].events == EPOLLIN) seen_e++;
      else if (evs[i].data.u64 != DT) { snprintf(m, sizeof m, "unexpected %llx/%x", (unsigned long long)evs[i].data.u64, evs[i].events); broken(m); }
    }
    if (seen_p != 1 || seen_e != 1) { snprintf(m, sizeof m, "expected P and E ready, saw P %d E %d of %d", seen_p, seen_e, n); broken(m); }
    char c;
    if (read(p[0], &c, 1) != 1 || c != 'x') broken("P byte");
    /* 3: P drained, E edge consumed, O disarmed: nothing (T at most). */
    n = epoll_wait(ep, evs, 8, 0);
    for (int i = 0; i < n; i++)
      if (evs[i].data.u64 != DT) { snprintf(m, sizeof m, "still ready: %llx", (unsigned long long)evs[i].data.u64); broken(m); }
    /* The thread in epoll_wait on the other epoll wakes for W. */
    long before = woken;
    if (write(w, &one, 8) != 8) broken("W write");
    struct timespec ms = { 0, 1000000 };
    for (int i = 0; i < 200 && woken == before; i++) nanosleep(&ms, NULL);
    if (woken != before + 1) { snprintf(m, sizeof m, "W woke %ld, expected %ld", woken, before + 1); broken(m); }
    if (!(fcntl(ep, F_GETFD) & FD_CLOEXEC) || (fcntl(ep2, F_GETFD) & FD_CLOEXEC)) broken("close-on-exec changed");
    printf("tick %ld woken=%ld\n", tick++, woken);
  }
}
