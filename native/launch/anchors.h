/* The job's record of the descriptors `stasis launch` inherited
 * (STASIS_INHERITED), made just before the program is exec'd: by the
 * execve addon on the Node path, by stasis-front on the fast path. */
#pragma once
#include <stddef.h>

#define MAX_HANDED 1024

/* Writes "STASIS_INHERITED=PID ANCHOR:FD,FD ..." into out (empty if it does
 * not fit): one anchor per open file description among handed[0..n). */
void make_anchors(const int *handed, int n, char *out, size_t cap);
