/* Virtual pids: a program keeps seeing the pids and tids it saw, across any
 * number of restarts. Virtual = the id when first seen; real = the kernel's
 * id now. Until the first restart the two are the same and the table is
 * empty. */
#ifndef STASIS_PID_H
#define STASIS_PID_H
#include <signal.h>
#include <sys/types.h>

pid_t pid_to_real(pid_t virt);   /* ids the program passes to the kernel */
pid_t pid_to_virt(pid_t real);   /* ids the kernel returns to the program */
int pid_is_virtual(pid_t id);    /* a virtual id of someone else now */
int pid_is_ambiguous(pid_t id);  /* a new kernel id that must not be used (pid.c) */
void pid_forked_child(void);     /* the child of fork(): it is itself */
int pid_is_translating(void);
int pid_in_translated_wait(void);                  /* this thread, inside a wait wrapper (wrappers.c) */
long pid_wait_again(long nr, long id, const long *args);  /* an interrupted wait, with virtual ids */
void pid_sender_to_virt(siginfo_t *si);  /* a signal's sender or SIGCHLD's child (siginfo.c) */
void pid_sender_to_real(siginfo_t *si);
pid_t group_to_real(pid_t virt);  /* process group and session ids (groups.c) */
pid_t group_to_virt(pid_t real);    /* some id differs from the kernel's (after a restart) */
#endif
