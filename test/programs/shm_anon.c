/* MAP_SHARED anonymous memory inherited across fork, with a process-shared
 * semaphore (sem_init pshared=1) in it as the lock. See shm_counters.h. */
#include "shm_counters.h"
#include <sys/mman.h>

int main(void) {
  struct counters *c = mmap(NULL, 3 * 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (c == MAP_FAILED || sem_init(&c->lock, 1, 1) < 0) { perror("setup"); return 1; }
  run_counters(c, &c->lock);
}
