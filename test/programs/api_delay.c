/* Delayed sections: where does a checkpoint requested inside one happen?
 * A worker thread runs sections in a loop: stasis_delay_begin(), counter
 * += 1, sleep SECTION_MS, counter += 1, stasis_delay_end(), then 20 ms
 * outside. A checkpoint inside a section would save an odd counter. The
 * program is its own plugin: at SAVE it notes the counter (threads are
 * stopped), at POSTCHECKPOINT it prints "saved counter C, N ms after
 * section K ended"; a restored process prints "restored counter C" at
 * RESTARTED. Each section prints "inside K begin B at T" when it begins
 * and "ended K rc R at T" after it (B, R from stasis_delay_begin/end, T
 * the wall clock in ms, to compare with when a checkpoint was asked for).
 * Usage: api_delay SECTION_MS [SECTIONS] */
#include <errno.h>
#include <pthread.h>
#include <stasis.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static volatile long counter, sections_ended;
static volatile long long last_end_ms, precheckpoint_ms;
static long saved_counter, saved_sections, restored_counter;
static long section_ms;

static long long now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

static long long wall_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

static void sleep_ms(long ms) {
  struct timespec ts = { ms / 1000, (ms % 1000) * 1000000 };
  while (nanosleep(&ts, &ts) == -1 && errno == EINTR) {}
}

static int on_event(enum stasis_event ev) {
  switch (ev) {
  case STASIS_EVENT_PRECHECKPOINT: precheckpoint_ms = now_ms(); break;
  case STASIS_EVENT_SAVE: saved_counter = counter; saved_sections = sections_ended; break;
  case STASIS_EVENT_POSTCHECKPOINT:
    printf("saved counter %ld, %lld ms after section %ld ended\n", saved_counter,
           precheckpoint_ms - last_end_ms, saved_sections - 1);
    break;
  case STASIS_EVENT_RESTART: restored_counter = counter; break;
  case STASIS_EVENT_RESTARTED: printf("restored counter %ld\n", restored_counter); break;
  default: break;
  }
  return 0;
}

static const struct stasis_plugin self = { "api_delay", on_event };

static void *worker(void *arg) {
  long sections = (long)arg;
  for (long k = 0; k < sections; k++) {
    int b = stasis_delay_begin();
    counter++;
    printf("inside %ld begin %d at %lld\n", k, b, wall_ms());
    sleep_ms(section_ms);
    counter++;
    last_end_ms = now_ms();
    long long at = wall_ms();
    sections_ended++;
    int rc = stasis_delay_end();
    printf("ended %ld rc %d at %lld\n", k, rc, at);
    sleep_ms(20);
  }
  return NULL;
}

int main(int argc, char **argv) {
  section_ms = argc > 1 ? atol(argv[1]) : 1000;
  long sections = argc > 2 ? atol(argv[2]) : 1000;
  setvbuf(stdout, NULL, _IOLBF, 0);
  printf("register %d\n", stasis_register_plugin(&self));
  pthread_t t;
  pthread_create(&t, NULL, worker, (void *)sections);
  pthread_join(t, NULL);
  printf("done %ld\n", counter);
  return 0;
}
