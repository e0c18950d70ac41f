/* SysV shared memory: the counters (and a pshared semaphore as the lock)
 * live in a segment from shmget(IPC_PRIVATE), attached before fork, and
 * removed (IPC_RMID) at once: it lives on while attached. Every process
 * also checks, every 200 increments, that its id still names that segment:
 * shmctl(IPC_STAT) gives its size and 3 attachments, and a second shmat of
 * the id sees the same counters. Prints "id ID" first. See shm_counters.h. */
#include "shm_counters.h"
#include <sys/shm.h>

static int id;

static void check_id(struct counters *c, int me) {
  struct shmid_ds ds;
  if (shmctl(id, IPC_STAT, &ds) < 0) { printf("BROKEN %d: shmctl(%d): %s\n", me, id, strerror(errno)); exit(1); }
  if (ds.shm_segsz != 3 * 4096 || ds.shm_nattch != NPROC)
    printf("BROKEN %d: segment %d has %zu bytes and %lu attachments\n", me, id, ds.shm_segsz, (unsigned long)ds.shm_nattch);
  struct counters *again = shmat(id, NULL, 0);
  if (again == (void *)-1) { printf("BROKEN %d: shmat(%d): %s\n", me, id, strerror(errno)); exit(1); }
  if (again->per[me] != c->per[me]) printf("BROKEN %d: a second attachment of %d sees other counters\n", me, id);
  shmdt(again);
}

int main(void) {
  id = shmget(IPC_PRIVATE, 3 * 4096, IPC_CREAT | 0600);
  struct counters *c = id < 0 ? (void *)-1 : shmat(id, NULL, 0);
  if (c == (void *)-1 || sem_init(&c->lock, 1, 1) < 0) { perror("setup"); return 1; }
  if (shmctl(id, IPC_RMID, NULL) < 0) { perror("IPC_RMID"); return 1; }
  printf("id %d\n", id);
  fflush(stdout);
  extra_check = check_id;
  run_counters(c, &c->lock);
}
