/* Descriptors inherited at launch (inherited.c), for the fd plugin. */
#ifndef STASIS_INHERITED_H
#define STASIS_INHERITED_H

int inherited_begin(void);     /* SAVE starts: 1 when the launch record can be used */
int inherited_usable(void);
/* 1: fd is an inherited description, taken care of here; 0: the job's
 * own; -1 after stasis_fail. */
int inherited_take(int fd, int cloexec, int flags);
int inherited_save_end(void);  /* writes IMAGE.inherited; 0 or -1 after stasis_fail */
int inherited_top(void);       /* above every number recorded */
int inherited_restore(void);   /* RESTART: 0 or -1 after stasis_fail */
#endif
