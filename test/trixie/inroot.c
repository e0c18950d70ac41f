/* inroot ROOT PROG [ARGS...]: chroot to ROOT, chdir to its /, exec PROG.
 * Statically linked on purpose: a static program loads no LD_PRELOAD
 * library, so under `stasis launch` libstasis.so starts only in PROG, inside
 * ROOT, and the launched process is checkpointable from its first
 * instruction there (chroot(1) would start the library once outside, connect
 * to the coordinator, and drop that connection again at its exec). */
#include <stdio.h>
#include <unistd.h>

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: inroot ROOT PROG [ARGS...]\n");
    return 125;
  }
  if (chroot(argv[1]) < 0 || chdir("/") < 0) {
    perror(argv[1]);
    return 125;
  }
  execv(argv[2], argv + 2);
  perror(argv[2]);
  return 127;
}
