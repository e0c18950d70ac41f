/* Plugin registry and event dispatch. Internal resources (fds, signals, ...)
 * are plugins on this same API; user plugins are shared objects named in
 * STASIS_PLUGINS (`stasis launch --with-plugin`), loaded before the
 * process first meets its coordinator. */
#include "core.h"
#include <time.h>
#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>

#define MAX_PLUGINS 64
static const struct stasis_plugin *plugins[MAX_PLUGINS];
static int nplugins;

static unsigned int wanted[MAX_PLUGINS];   /* event masks, 0: all */
static unsigned char internal[MAX_PLUGINS]; /* libstasis's own (no thread events) */
static volatile int thread_plugins;         /* plugins that want thread events */

#define THREAD_EVENTS (STASIS_EVENT_BIT(STASIS_EVENT_THREAD_START) | STASIS_EVENT_BIT(STASIS_EVENT_THREAD_EXIT))

/* Whether the plugin structure lives in libstasis itself. Registration
 * order cannot tell: a library the program links may register before
 * libstasis's constructors run (the loader initializes it first). */
static int in_libstasis(const void *p) {
  Dl_info self, other;
  if (!dladdr((void *)plugins_dispatch, &self) || !dladdr(p, &other)) return 0;
  return self.dli_fbase == other.dli_fbase;
}

API int stasis_register_plugin_for(const struct stasis_plugin *p, unsigned int events) {
  if (!p || !p->event) return STASIS_ERR_INVALID;
  if (nplugins >= MAX_PLUGINS) {
    stasis_log("too many plugins: %s ignored", p->name);
    return STASIS_ERR_NO_SPACE;
  }
  wanted[nplugins] = events;
  internal[nplugins] = (unsigned char)in_libstasis(p);
  plugins[nplugins] = p;
  __atomic_store_n(&nplugins, nplugins + 1, __ATOMIC_RELEASE);
  if (!internal[nplugins - 1] && (!events || (events & THREAD_EVENTS)))
    __atomic_add_fetch(&thread_plugins, 1, __ATOMIC_SEQ_CST);
  return STASIS_OK;
}

API int stasis_register_plugin(const struct stasis_plugin *p) { return stasis_register_plugin_for(p, 0); }

/* STASIS_PLUGINS: paths separated by commas. A forked child and a restored
 * process have the plugins mapped and registered already (memory); an
 * exec'd program inherits the variable. A plugin that cannot be loaded is named on stderr and the
 * program runs without it. Loaded after the internal plugins registered
 * (constructor 200), before the core connects (init.c, default priority),
 * so no checkpoint misses it. */
__attribute__((constructor(201))) static void load_user_plugins(void) {
  const char *v = getenv("STASIS_PLUGINS");
  if (!v || !*v || !getenv("STASIS_COORD")) return;
  char copy[4096], *save = NULL;
  if (strlen(v) >= sizeof copy) { stasis_log("STASIS_PLUGINS too long: no plugin loaded"); return; }
  strcpy(copy, v);
  for (char *path = strtok_r(copy, ",", &save); path; path = strtok_r(NULL, ",", &save))
    if (!dlopen(path, RTLD_NOW | RTLD_GLOBAL)) stasis_log("cannot load plugin %s: %s", path, dlerror());
}

/* SAVE/RESTART stop at the first failure; other events reach everyone. */
int plugins_dispatch(enum stasis_event ev) {
  int rc = 0;
  for (int i = 0; i < nplugins; i++) {
    if (wanted[i] && !(wanted[i] & STASIS_EVENT_BIT(ev))) continue;
    struct timespec t0, t1;
    if (stasis_debug_on) clock_gettime(CLOCK_MONOTONIC, &t0);
    int failed = plugins[i]->event(ev) != 0;
    if (stasis_debug_on) {   /* where a checkpoint's pause goes */
      clock_gettime(CLOCK_MONOTONIC, &t1);
      double ms = (t1.tv_sec - t0.tv_sec) * 1e3 + (t1.tv_nsec - t0.tv_nsec) / 1e6;
      if (ms >= 0.5) stasis_debug("plugin %s: event %d took %.1f ms", plugins[i]->name, (int)ev, ms);
    }
    if (!failed) continue;
    if (!stasis_failure()) stasis_fail("plugin %s failed", plugins[i]->name);
    rc = -1;
    if (ev == STASIS_EVENT_SAVE || ev == STASIS_EVENT_RESTART) break;
  }
  return rc;
}

int plugins_want_thread_events(void) { return __atomic_load_n(&thread_plugins, __ATOMIC_SEQ_CST) > 0; }

/* THREAD_START / THREAD_EXIT, on the user thread itself (wrappers.c). The
 * handlers' answers are ignored: a thread cannot be refused. While one runs,
 * stasis_checkpoint() and delays answer STASIS_ERR_CONTEXT (api.c). */
__thread int stasis_in_thread_event;

void plugins_thread_event(enum stasis_event ev) {
  int n = __atomic_load_n(&nplugins, __ATOMIC_ACQUIRE);
  stasis_in_thread_event = 1;
  for (int i = 0; i < n; i++) {
    if (internal[i] || (wanted[i] && !(wanted[i] & STASIS_EVENT_BIT(ev)))) continue;
    plugins[i]->event(ev);
  }
  stasis_in_thread_event = 0;
}

/* Kinds of file descriptor, consulted by the fd plugin (see stasis.h). */
#define MAX_FD_KINDS 32
static const struct stasis_fd_kind *fd_kinds[MAX_FD_KINDS];
static int nfd_kinds;

API int stasis_register_fd_kind(const struct stasis_fd_kind *k) {
  if (nfd_kinds < MAX_FD_KINDS) fd_kinds[nfd_kinds++] = k;
  else {
    stasis_log("too many descriptor kinds: %s ignored", k->name);
    return STASIS_ERR_NO_SPACE;
  }
  return STASIS_OK;
}

int stasis_fd_kinds(const struct stasis_fd_kind *const **list);
int stasis_fd_kinds(const struct stasis_fd_kind *const **list) {
  *list = fd_kinds;
  return nfd_kinds;
}

/* Memory claimers (see stasis.h). */
#define MAX_CLAIMS 8
static stasis_memory_claim_fn claims[MAX_CLAIMS];
static int nclaims;

API int stasis_register_memory_claim(stasis_memory_claim_fn claim) {
  if (nclaims < MAX_CLAIMS) claims[nclaims++] = claim;
  else {
    stasis_log("too many memory claimers");
    return STASIS_ERR_NO_SPACE;
  }
  return STASIS_OK;
}

int plugins_claim_memory(uint64_t start, uint64_t end) {
  for (int i = 0; i < nclaims; i++)
    if (claims[i](start, end)) return 1;
  return 0;
}
