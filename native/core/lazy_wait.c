/* After a lazy restart a pager process (restart/lazy.c) fills this
 * process's memory through userfaultfd until it exits. A checkpoint and a
 * fork() wait for it first: the image must hold the saved pages, not holes,
 * and a child (fork, or the forked checkpoint's writer) does not inherit
 * the userfaultfd ranges, so it would read zeros where pages were missing.
 * Without a descriptor of our own: the pager is watched through /proc
 * (gone, a zombie, or its pid taken by another program all mean done). */
#include "core.h"
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int pager_running(pid_t pid) {
  char buf[256], state;
  pid_t ppid;
  return stasis_proc_stat(pid, buf, sizeof buf, &state, &ppid) && strncmp(buf + strcspn(buf, "("), "(stasis-pager)", 14) == 0 &&
         state != 'Z';
}

static double ms_since(const struct timespec *t0) {
  struct timespec t1;
  clock_gettime(CLOCK_MONOTONIC, &t1);
  return (t1.tv_sec - t0->tv_sec) * 1e3 + (t1.tv_nsec - t0->tv_nsec) / 1e6;
}

void lazy_wait(void) {
  pid_t pid = (pid_t)stasis_restart_info.pager_pid;
  if (!pid) return;
  struct timespec t0, tick = { 0, 1000000 };
  clock_gettime(CLOCK_MONOTONIC, &t0);
  while (pager_running(pid)) nanosleep(&tick, NULL);
  stasis_restart_info.pager_pid = 0;
  stasis_debug("waited %.1f ms for the lazy restart's pager to fill memory", ms_since(&t0));
}

void lazy_settle(int most_ms) {
  pid_t pid = (pid_t)stasis_restart_info.pager_pid;
  struct timespec t0, tick = { 0, 10000000 };
  clock_gettime(CLOCK_MONOTONIC, &t0);
  while (pid && pager_running(pid) && ms_since(&t0) < most_ms) nanosleep(&tick, NULL);
}

__attribute__((constructor(203))) static void lazy_atfork(void) { pthread_atfork(lazy_wait, NULL, NULL); }
