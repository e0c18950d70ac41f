/* Node addon of the plugin API (node/stasis.cjs is its JS face). The C
 * functions are looked up at load time with dlsym(RTLD_DEFAULT): under
 * stasis libstasis is preloaded and found; without it every call answers
 * STASIS_ERR_NOT_ENABLED. JS callbacks run on the main thread: the
 * checkpoint thread queues them through a thread-safe function and waits
 * for them, at most WAIT_S seconds: a main thread that does not come back
 * to its event loop in time refuses the checkpoint (PRECHECKPOINT), or is
 * let be (after the checkpoint or a restart; its callbacks run later). */
#include <node_api.h>
#include <dlfcn.h>
#include <errno.h>
#include <semaphore.h>
#include <stasis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define WAIT_S 10

static int (*f_version)(void), (*f_enabled)(void), (*f_checkpoint)(void), (*f_delay_begin)(void), (*f_delay_end)(void);
static int (*f_register_for)(const struct stasis_plugin *, unsigned int);
static void (*f_fail)(const char *, ...);

static napi_threadsafe_function tsfn;
static sem_t done;
static volatile unsigned long asked, answered;   /* calls queued / run */
static volatile int pre_rc;
static char pre_error[512];

static int call0(int (*fn)(void)) { return fn ? fn() : STASIS_ERR_NOT_ENABLED; }

static napi_value number(napi_env env, double v) {
  napi_value r;
  napi_create_double(env, v, &r);
  return r;
}

static napi_value js_version(napi_env env, napi_callback_info info) { (void)info; return number(env, f_version ? f_version() : 0); }
static napi_value js_enabled(napi_env env, napi_callback_info info) { (void)info; return number(env, f_enabled ? f_enabled() : 0); }
static napi_value js_checkpoint_sync(napi_env env, napi_callback_info info) { (void)info; return number(env, call0(f_checkpoint)); }
static napi_value js_delay_begin(napi_env env, napi_callback_info info) { (void)info; return number(env, call0(f_delay_begin)); }
static napi_value js_delay_end(napi_env env, napi_callback_info info) { (void)info; return number(env, call0(f_delay_end)); }

/* checkpoint(): on a libuv pool thread, resolved on the main thread. */
struct ckpt_work { napi_async_work work; napi_deferred deferred; int rc; };

static void ckpt_execute(napi_env env, void *data) { (void)env; ((struct ckpt_work *)data)->rc = call0(f_checkpoint); }

static void ckpt_complete(napi_env env, napi_status status, void *data) {
  (void)status;
  struct ckpt_work *w = data;
  napi_resolve_deferred(env, w->deferred, number(env, w->rc));
  napi_delete_async_work(env, w->work);
  free(w);
}

static napi_value js_checkpoint(napi_env env, napi_callback_info info) {
  (void)info;
  struct ckpt_work *w = calloc(1, sizeof *w);
  napi_value promise, name;
  napi_create_promise(env, &w->deferred, &promise);
  napi_create_string_utf8(env, "stasis_checkpoint", NAPI_AUTO_LENGTH, &name);
  napi_create_async_work(env, NULL, name, ckpt_execute, ckpt_complete, w, &w->work);
  napi_queue_async_work(env, w->work);
  return promise;
}

/* Events: the dispatcher given to onEvents(fn) gets the event number and
 * throws to refuse a PRECHECKPOINT. */
struct event_call { int event; unsigned long seq; };

static void call_js(napi_env env, napi_value dispatcher, void *context, void *data) {
  (void)context;
  struct event_call *c = data;
  if (env && dispatcher) {
    napi_value undefined, arg, result;
    napi_get_undefined(env, &undefined);
    arg = number(env, c->event);
    if (napi_call_function(env, undefined, dispatcher, 1, &arg, &result) != napi_ok) {
      napi_value exc, text;
      size_t len = 0;
      napi_get_and_clear_last_exception(env, &exc);
      if (napi_coerce_to_string(env, exc, &text) == napi_ok)
        napi_get_value_string_utf8(env, text, pre_error, sizeof pre_error, &len);
      pre_rc = -1;
    }
  }
  answered = c->seq;
  sem_post(&done);
  free(c);
}

static int on_event(enum stasis_event ev) {
  struct event_call *c = malloc(sizeof *c);
  if (!c) return 0;
  c->event = ev;
  unsigned long seq = c->seq = ++asked;   /* c is call_js's to free */
  pre_rc = 0;
  pre_error[0] = 0;
  if (napi_call_threadsafe_function(tsfn, c, napi_tsfn_nonblocking) != napi_ok) { free(c); return 0; }
  struct timespec until;
  clock_gettime(CLOCK_REALTIME, &until);
  until.tv_sec += WAIT_S;
  while (answered != seq) {
    if (sem_timedwait(&done, &until) < 0 && errno == ETIMEDOUT) {
      if (ev != STASIS_EVENT_PRECHECKPOINT) return 0;
      if (f_fail) f_fail("node: the main thread did not run the onCheckpoint callbacks within %d s", WAIT_S);
      return -1;
    }
  }
  if (ev != STASIS_EVENT_PRECHECKPOINT) return 0;
  if (pre_rc < 0 && f_fail) f_fail("node onCheckpoint: %s", pre_error);
  return pre_rc;
}

static const struct stasis_plugin plugin = { "node", on_event };

static napi_value js_on_events(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value fn, name;
  napi_get_cb_info(env, info, &argc, &fn, NULL, NULL);
  if (tsfn || !f_register_for) return number(env, f_register_for ? STASIS_OK : STASIS_ERR_NOT_ENABLED);
  napi_create_string_utf8(env, "stasis events", NAPI_AUTO_LENGTH, &name);
  if (napi_create_threadsafe_function(env, fn, NULL, name, 0, 1, NULL, NULL, NULL, call_js, &tsfn) != napi_ok)
    return number(env, STASIS_ERR_INVALID);
  napi_unref_threadsafe_function(env, tsfn);   /* the program may end with callbacks registered */
  sem_init(&done, 0, 0);
  return number(env, f_register_for(&plugin, STASIS_EVENT_BIT(STASIS_EVENT_PRECHECKPOINT) |
                                    STASIS_EVENT_BIT(STASIS_EVENT_POSTCHECKPOINT) | STASIS_EVENT_BIT(STASIS_EVENT_RESTARTED)));
}

#define FIND(var, name) (*(void **)&(var) = dlsym(RTLD_DEFAULT, name))

static napi_value init(napi_env env, napi_value exports) {
  FIND(f_version, "stasis_api_version");
  FIND(f_enabled, "stasis_is_enabled");
  FIND(f_checkpoint, "stasis_checkpoint");
  FIND(f_delay_begin, "stasis_delay_begin");
  FIND(f_delay_end, "stasis_delay_end");
  FIND(f_register_for, "stasis_register_plugin_for");
  FIND(f_fail, "stasis_fail");
  napi_property_descriptor props[] = {
    { "apiVersion", NULL, js_version, NULL, NULL, NULL, napi_default, NULL },
    { "isEnabled", NULL, js_enabled, NULL, NULL, NULL, napi_default, NULL },
    { "checkpoint", NULL, js_checkpoint, NULL, NULL, NULL, napi_default, NULL },
    { "checkpointSync", NULL, js_checkpoint_sync, NULL, NULL, NULL, napi_default, NULL },
    { "delayBegin", NULL, js_delay_begin, NULL, NULL, NULL, napi_default, NULL },
    { "delayEnd", NULL, js_delay_end, NULL, NULL, NULL, napi_default, NULL },
    { "onEvents", NULL, js_on_events, NULL, NULL, NULL, napi_default, NULL },
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
