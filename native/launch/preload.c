/* Before the exec of the program: libstasis preloaded, signal state reset
 * (shared by stasis-launch and stasis-front). */
#include "preload.h"
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Every signal default and unblocked, except the suspend signal (as
 * libstasis reads it, init.c): ignored until the program's libstasis
 * constructor installs its handler, so that no suspend signal can end the
 * program before it has one (an ignored signal stays ignored across exec). */
void reset_signals(void) {
  struct sigaction dfl;
  memset(&dfl, 0, sizeof dfl);
  dfl.sa_handler = SIG_DFL;
  for (int sig = 1; sig < NSIG; sig++) sigaction(sig, &dfl, NULL);
  const char *env = getenv("STASIS_SIGNAL");
  int suspend = env ? atoi(env) : SIGRTMAX - 2;
  if (getenv("STASIS_COORD") && suspend > 0 && suspend < NSIG && suspend != SIGKILL && suspend != SIGSTOP) {
    struct sigaction ign = dfl;
    ign.sa_handler = SIG_IGN;
    sigaction(suspend, &ign, NULL);
  }
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, NULL);
}

int add_preload(const char *self) {
  char dir[PATH_MAX], lib[PATH_MAX + 32];
  ssize_t n = readlink("/proc/self/exe", dir, sizeof dir - 1);
  if (n < 0) { perror("stasis-launch: /proc/self/exe"); return -1; }
  dir[n] = 0;
  char *slash = strrchr(dir, '/');
  if (slash) *slash = 0;
  snprintf(lib, sizeof lib, "%s/libstasis.so", dir);
  if (access(lib, R_OK) != 0) {
    fprintf(stderr, "%s: cannot read %s: %s\n", self, lib, strerror(errno));
    return -1;
  }
  const char *old = getenv("LD_PRELOAD");
  char *val = malloc(strlen(lib) + (old ? strlen(old) : 0) + 2);
  if (!val) return -1;
  if (old && *old) sprintf(val, "%s:%s", lib, old); else strcpy(val, lib);
  setenv("LD_PRELOAD", val, 1);
  free(val);
  return 0;
}

