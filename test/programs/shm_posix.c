/* POSIX shared memory: the counters live in a /dev/shm file (shm_open +
 * mmap MAP_SHARED) and the lock is a named semaphore (sem_open, itself a
 * file in /dev/shm). With "unlink" both names are removed once mapped, as
 * Python's multiprocessing does: only the mappings keep them alive.
 * Prints "names NAME" first. See shm_counters.h. */
#include "shm_counters.h"
#include <fcntl.h>
#include <sys/mman.h>

int main(int argc, char **argv) {
  int unlink_names = argc > 1 && strcmp(argv[1], "unlink") == 0;
  char name[64];
  snprintf(name, sizeof name, "/stasis-test-%d", (int)getpid());
  int fd = shm_open(name, O_RDWR | O_CREAT | O_EXCL, 0640);
  if (fd < 0 || ftruncate(fd, 2 * 4096) < 0) { perror("shm_open"); return 1; }
  struct counters *c = mmap(NULL, 2 * 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  close(fd);
  sem_t *lock = sem_open(name, O_CREAT | O_EXCL, 0600, 1);
  if (c == MAP_FAILED || lock == SEM_FAILED) { perror("setup"); return 1; }
  if (unlink_names && (shm_unlink(name) < 0 || sem_unlink(name) < 0)) { perror("unlink"); return 1; }
  printf("names %s\n", name);
  fflush(stdout);
  run_counters(c, lock);
}
