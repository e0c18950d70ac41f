/* A library whose constructor uses SysV shared memory, as UCX's libucm
 * does (MPICH's ranks load it): it runs before libstasis's constructors,
 * so the wrappers must work before stasis has set itself up. */
#include <string.h>
#include <sys/ipc.h>
#include <sys/shm.h>

int early_shm_result = -100;

__attribute__((constructor)) static void probe(void) {
  int id = shmget(IPC_PRIVATE, 4096, IPC_CREAT | 0600);
  if (id < 0) { early_shm_result = -1; return; }
  char *p = shmat(id, NULL, 0);
  if (p == (void *)-1) { early_shm_result = -2; shmctl(id, IPC_RMID, NULL); return; }
  strcpy(p, "early");
  early_shm_result = strcmp(p, "early") == 0 ? 0 : -3;
  shmdt(p);
  if (shmctl(id, IPC_RMID, NULL) < 0) early_shm_result = -4;
}
