/* stasis public plugin API.
 *
 * A plugin is a shared object (loaded with --with-plugin, or linked into the
 * program) or an internal module of libstasis. It registers a handler that
 * the core calls at each phase of a checkpoint or restart. Plugins keep their
 * state in their own memory: the core saves all memory, so whatever a plugin
 * stored before STASIS_EVENT_SAVE is there again at STASIS_EVENT_RESTART. */
#ifndef STASIS_H
#define STASIS_H
#ifdef __cplusplus
extern "C" {
#endif

enum stasis_event {
  STASIS_EVENT_SUSPENDED = 1, /* all user threads stopped, before saving */
  STASIS_EVENT_SAVE,          /* record what must be rebuilt; may fail the checkpoint */
  STASIS_EVENT_RESUME,        /* after the image is written, same process continues */
  STASIS_EVENT_RESTART,       /* in the restored process, before threads run again */
  STASIS_EVENT_RESTARTED      /* in the restored process, once the coordinator released it */
};

/* Return 0, or -1 after stasis_fail() to refuse the checkpoint (SAVE) or the
 * restart (RESTART). Handlers run on the checkpoint thread while every other
 * thread is stopped: they must not take locks user threads may hold (malloc
 * included) and should use plain system calls. */
typedef int (*stasis_event_fn)(enum stasis_event event);

struct stasis_plugin {
  const char *name;
  stasis_event_fn event;
};

void stasis_register_plugin(const struct stasis_plugin *plugin);

/* Report why a checkpoint or restart cannot proceed (printf-style). The
 * message reaches the coordinator and the user, prefixed with the process. */
void stasis_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Ask for a checkpoint of the whole job and wait for it. Returns 0 when the
 * program continues after the checkpoint, 1 when it continues in a process
 * restored from it, -1 when no coordinator is reachable. */
int stasis_checkpoint(void);

/* Keep checkpoints out of a critical section (nestable, per process). */
void stasis_delay_begin(void);
void stasis_delay_end(void);

/* Non-zero when running under stasis with a coordinator. */
int stasis_is_enabled(void);

#ifdef __cplusplus
}
#endif
#endif
