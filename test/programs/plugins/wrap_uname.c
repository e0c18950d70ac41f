/* A wrapper through STASIS_NEXT: uname() answers the real one's nodename
 * prefixed with "wrapped-". For LD_PRELOAD (a plugin loaded with dlopen
 * does not interpose on the program). */
#include <stasis.h>
#include <stdio.h>
#include <string.h>
#include <sys/utsname.h>

__attribute__((visibility("default"))) int uname(struct utsname *u) {
  int (*next)(struct utsname *) = STASIS_NEXT(uname);
  if (!next) return -1;
  int rc = next(u);
  if (rc == 0) {
    char real[sizeof u->nodename];
    memcpy(real, u->nodename, sizeof real);
    snprintf(u->nodename, sizeof u->nodename, "wrapped-%.*s", (int)(sizeof real - 9), real);
  }
  return rc;
}
