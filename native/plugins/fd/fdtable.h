/* The descriptors the fd plugin saved (fd.c), for shared.c. */
#ifndef STASIS_FDTABLE_H
#define STASIS_FDTABLE_H
#include "stasis.h"

#define MAX_FDS 1024
struct fd_entry {
  struct stasis_fd info;
  char target[1024];
  int kind;       /* index in the registry */
  int cookie;     /* from the kind's save() */
  int dup_of;     /* first descriptor of the same description, or -1 */
};
extern struct fd_entry fds[MAX_FDS];
extern int nfds;

/* SAVE: for each description, the job's process with the lowest pid (as
 * the program knows it) that holds it too, if lower than ours. */
void shared_find_leaders(void);
/* ALL_RESTORED: replace our copies with what those processes restored. */
void shared_take_over(void);
#endif
