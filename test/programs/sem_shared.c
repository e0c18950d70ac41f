/* Counting semaphores between processes: a parent produces numbers 1, 2,
 * 3, ... into a 16-slot ring in MAP_SHARED memory and a forked child
 * consumes them, with two process-shared semaphores (free slots, filled
 * slots). The consumer is slower, so the producer is mostly blocked in
 * sem_wait. The child prints "got N" every 500 numbers and "BROKEN ..."
 * when a number is missing or repeated. */
#include "shm_counters.h"
#include <sys/mman.h>

#define SLOTS 16
struct ring { sem_t free_slots, filled; long slot[SLOTS]; };

int main(void) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  struct ring *r = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (r == MAP_FAILED || sem_init(&r->free_slots, 1, SLOTS) < 0 || sem_init(&r->filled, 1, 0) < 0) { perror("setup"); return 1; }
  pid_t pid = fork();
  if (pid < 0) { perror("fork"); return 1; }
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    for (long want = 1;; want++) {
      locked(&r->filled);
      long n = r->slot[(want - 1) % SLOTS];
      unlocked(&r->free_slots);
      if (n != want) { printf("BROKEN got %ld, want %ld\n", n, want); return 1; }
      if (n % 500 == 0) printf("got %ld\n", n);
      nap_us(400);
    }
  }
  for (long n = 1;; n++) {
    locked(&r->free_slots);
    r->slot[(n - 1) % SLOTS] = n;
    unlocked(&r->filled);
  }
}
