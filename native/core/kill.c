/* The coordinator's KILL (`stasis command --kill`, a job stopped after its
 * last checkpoint): the process ends at once, but plugins first get a
 * moment to leave nothing behind that would stand in the way of a restart
 * on this host (TCP ports held in TIME_WAIT, plugins/socket/abort.c). */
#include "core.h"
#include <signal.h>
#include <unistd.h>

#define MAX_AT_KILL 8
static void (*at_kill[MAX_AT_KILL])(void);
static int nat_kill;

void stasis_at_kill(void (*fn)(void)) {
  if (nat_kill < MAX_AT_KILL) at_kill[nat_kill++] = fn;
}

void stasis_kill_self(void) {
  for (int i = 0; i < nat_kill; i++) at_kill[i]();
  kill(getpid(), SIGKILL);
  _exit(137);
}
