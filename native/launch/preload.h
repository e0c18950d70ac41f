/* What stasis-launch does before it execs the program, shared with the fast
 * path of bin/stasis (stasis-front). */
#pragma once

/* Adds libstasis.so (beside this executable) to LD_PRELOAD; -1 after saying why. */
int add_preload(const char *self);
/* Every signal default and unblocked, the suspend signal ignored (launch.c). */
void reset_signals(void);
