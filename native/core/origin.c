/* The origin host (docs/protocol.md, HELLO): the host whose pid namespace
 * this process's pids come from. A process launched here has this host as
 * origin; a forked child inherits it in memory; a restored process keeps it
 * from its image wherever it runs now. An exec'd image learns it from
 * STASIS_ORIGIN=ORIGIN@HOST, trusted only on HOST: a variable carried to
 * another host (srun copies the environment) names someone else's pids. */
#include "core.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>

char stasis_origin[STASIS_HOST_MAX];

static void this_host(char *out, size_t cap) {
  struct utsname u;
  uname(&u);
  snprintf(out, cap, "%s", u.nodename);
}

void origin_init(void) {
  char host[STASIS_HOST_MAX];
  this_host(host, sizeof host);
  const char *v = getenv("STASIS_ORIGIN");
  const char *at = v ? strrchr(v, '@') : NULL;
  if (at && at > v && (size_t)(at - v) < sizeof stasis_origin && strcmp(at + 1, host) == 0)
    snprintf(stasis_origin, sizeof stasis_origin, "%.*s", (int)(at - v), v);
  else
    snprintf(stasis_origin, sizeof stasis_origin, "%s", host);
}

/* A restored process on a host that is not its origin: its exec'd images
 * must learn the origin. Runs once the program's allocator is safe again. */
void origin_after_restart(void) {
  char host[STASIS_HOST_MAX], value[2 * STASIS_HOST_MAX + 2];
  this_host(host, sizeof host);
  if (strcmp(host, stasis_origin) == 0 && !getenv("STASIS_ORIGIN")) return;
  snprintf(value, sizeof value, "%s@%s", stasis_origin, host);
  if (setenv("STASIS_ORIGIN", value, 1) < 0) stasis_log("cannot set STASIS_ORIGIN: %s", strerror(errno));
}
