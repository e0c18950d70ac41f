/* ssh, rsh and srun run by a job process go through the relay: the exec
 * of the client (found by its base name, after the PATH search) becomes
 *   stasis-relay --local CLIENT-PATH ARGV...
 * (stasis-relay beside libstasis.so, native/launch/relay.c), which runs
 * the real client outside the job and the remote command inside it. A
 * command line the grammar (argv.c) does not rewrite (no remote command,
 * -N, -f, an unknown option...) execs the client as given, as does any
 * exec when STASIS_RELAY=off. */
#include "../../core/core.h"
#include "argv.h"
#include <dlfcn.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char relay[PATH_MAX];

static int relay_rewrite(const char *path, char *const argv[], struct exec_rewrite *rw) {
  const char *base = argv_basename(path);
  int is_srun = !strcmp(base, "srun");
  if (!relay[0] || (!is_srun && strcmp(base, "ssh") && strcmp(base, "rsh"))) return 0;
  const char *off = getenv("STASIS_RELAY");
  if (off && !strcmp(off, "off")) return 0;
  if (is_srun) {
    struct srun_parse s;
    srun_parse(argv, &s);
    if (s.pass) { stasis_debug("srun not relayed: %s", s.reason); return 0; }
  } else {
    struct remote_parse r;
    remote_parse(path, argv, &r);
    if (r.pass) { stasis_debug("%s not relayed: %s", base, r.reason); return 0; }
  }
  rw->path = relay;
  rw->prefix[0] = relay;
  rw->prefix[1] = "--local";
  rw->prefix[2] = path;
  rw->nprefix = 3;
  return 1;
}

/* The relay sits beside this library (the build or install directory). */
STASIS_REGISTER static void relay_register(void) {
  Dl_info info;
  if (!dladdr((void *)relay_rewrite, &info) || !info.dli_fname) return;
  const char *slash = strrchr(info.dli_fname, '/');
  size_t dir = slash ? (size_t)(slash - info.dli_fname) : 0;
  if (dir + sizeof "/stasis-relay" > sizeof relay) return;
  memcpy(relay, info.dli_fname, dir);
  strcpy(relay + dir, "/stasis-relay");
  if (access(relay, X_OK) != 0) { relay[0] = 0; return; }
  exec_register_rewrite(relay_rewrite);
}
