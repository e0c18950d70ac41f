/* Shared memory objects: what objects.c (saving) and sysv.c (SysV ids)
 * tell each other. */
#ifndef STASIS_SHM_H
#define STASIS_SHM_H
/* SAVE: this process has SysV segment `id` attached at `addr`; `dest` when
 * it was already removed (IPC_RMID) and lives on only while attached. */
void sysv_attached(unsigned long long addr, int id, int dest);
/* SAVE: forget what the last checkpoint saw. */
void sysv_forget_attached(void);
#endif
