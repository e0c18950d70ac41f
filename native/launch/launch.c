/* stasis-launch: the native launcher. Adds libstasis.so to LD_PRELOAD,
 * resets signal state inherited from Node, and execs the program in place
 * (same PID, no lingering parent). Coordinator address and token arrive in
 * the environment (STASIS_COORD, STASIS_TOKEN, STASIS_CKPT_DIR). */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "preload.h"

int main(int argc, char **argv) {
  int first = 1;
  if (argc > 1 && strcmp(argv[1], "--") == 0) first = 2;
  if (first >= argc) {
    fprintf(stderr, "usage: stasis-launch [--] program [args...]\n");
    return 2;
  }
  if (add_preload(argv[0]) != 0) return 1;
  reset_signals();
  execvp(argv[first], &argv[first]);
  int err = errno;
  fprintf(stderr, "stasis: cannot run %s: %s\n", argv[first], strerror(err));
  return err == ENOENT ? 127 : 126;
}
