/* Plugin registry and event dispatch. Internal resources (fds, signals, ...)
 * are plugins on this same API. */
#include "core.h"

#define MAX_PLUGINS 64
static const struct stasis_plugin *plugins[MAX_PLUGINS];
static int nplugins;

API void stasis_register_plugin(const struct stasis_plugin *p) {
  if (nplugins < MAX_PLUGINS) plugins[nplugins++] = p;
  else stasis_log("too many plugins: %s ignored", p->name);
}

/* SAVE/RESTART stop at the first failure; other events reach everyone. */
int plugins_dispatch(enum stasis_event ev) {
  int rc = 0;
  for (int i = 0; i < nplugins; i++) {
    if (plugins[i]->event(ev) == 0) continue;
    if (!stasis_failure()) stasis_fail("plugin %s failed", plugins[i]->name);
    rc = -1;
    if (ev == STASIS_EVENT_SAVE || ev == STASIS_EVENT_RESTART) break;
  }
  return rc;
}
