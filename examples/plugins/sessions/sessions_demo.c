/* A program that keeps session ids (sessions.c) and uses them every
 * 200 ms: "tick N NAME id ID real REAL answer ANSWER", where ANSWER is what the service says of that session now.
 * Across a checkpoint, a restart of the service and of this program, ID
 * stays, REAL changes, and the service still knows every session.
 * Usage: SESSIONS_SOCKET=path sessions_demo [TICKS] (0: forever) */
#include "sessions.h"
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

int main(int argc, char **argv) {
  long ticks = argc > 1 ? atol(argv[1]) : 0;
  static const char *names[] = { "alpha", "beta", "gamma" };
  long ids[3];
  setvbuf(stdout, NULL, _IOLBF, 0);
  for (int i = 0; i < 3; i++) {
    if ((ids[i] = sess_open(names[i])) < 0) { fprintf(stderr, "cannot open %s\n", names[i]); return 1; }
    printf("opened %s id %ld real %ld\n", names[i], ids[i], sess_real(ids[i]));
  }
  for (long n = 0; ticks == 0 || n < ticks; n++) {
    struct timespec ts = { 0, 200 * 1000000 };
    nanosleep(&ts, NULL);
    for (int i = 0; i < 3; i++) {
      char answer[64] = "-";
      sess_name(ids[i], answer, sizeof answer);
      printf("tick %ld %s id %ld real %ld answer %s\n", n, names[i], ids[i], sess_real(ids[i]), answer);
    }
  }
  return 0;
}
