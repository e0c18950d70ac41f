/* The working directory: saved as a path at SAVE and gone back to at
 * RESTART (where `stasis restart --path-map` says it moved); without this
 * a restored process would run wherever `stasis restart` was started, and
 * its relative paths would name other files. A directory that no longer
 * exists fails the restart with its name; one already deleted at the
 * checkpoint cannot be gone back to: the process stays where it starts. */
#include "../../core/core.h"
#include "../fd/fdutil.h"
#include <limits.h>

static char cwd[PATH_MAX];

static int cwd_event(enum stasis_event ev) {
  if (ev == STASIS_EVENT_SAVE) {
    ssize_t n = readlink("/proc/self/cwd", cwd, sizeof cwd - 1);
    cwd[n > 0 ? n : 0] = 0;
    return 0;
  }
  if (ev != STASIS_EVENT_RESTART || cwd[0] != '/') return 0;
  if (fdu_ends_with(cwd, " (deleted)")) {
    stasis_log("working directory %s was deleted before the checkpoint: staying where the restart began", cwd);
    return 0;
  }
  char path[PATH_MAX];
  stasis_restore_path(cwd, path, sizeof path);
  if (chdir(path) == 0) return 0;
  int moved = strcmp(path, cwd) != 0;
  stasis_fail("cannot go back to the working directory %s%s%s: %s", path, moved ? ", moved from " : "",
              moved ? cwd : "", strerror(errno));
  return -1;
}

static const struct stasis_plugin cwd_plugin = { "cwd", cwd_event };
STASIS_REGISTER static void cwd_register(void) { stasis_register_plugin(&cwd_plugin); }
