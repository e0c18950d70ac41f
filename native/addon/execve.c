/* Node addon: execve(path, argv, envp) replacing the Node process, so that
 * `stasis launch` hands its PID to the native launcher (Node 20 has no execve).
 * Returns only on failure, throwing an Error with errno's message. */
#include <node_api.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char *dup_string(napi_env env, napi_value v) {
  size_t len = 0;
  if (napi_get_value_string_utf8(env, v, NULL, 0, &len) != napi_ok) return NULL;
  char *s = malloc(len + 1);
  if (s) napi_get_value_string_utf8(env, v, s, len + 1, &len);
  return s;
}

static char **dup_array(napi_env env, napi_value arr) {
  uint32_t n = 0;
  if (napi_get_array_length(env, arr, &n) != napi_ok) return NULL;
  char **out = calloc(n + 1, sizeof(char *));
  for (uint32_t i = 0; out && i < n; i++) {
    napi_value item;
    napi_get_element(env, arr, i, &item);
    out[i] = dup_string(env, item);
  }
  return out;
}

/* Node marks its stdio close-on-exec and may make it non-blocking; the
 * program we become must inherit plain, blocking stdin/stdout/stderr. */
static void hand_over_stdio(void) {
  for (int fd = 0; fd <= 2; fd++) {
    int fdflags = fcntl(fd, F_GETFD);
    if (fdflags >= 0 && (fdflags & FD_CLOEXEC)) fcntl(fd, F_SETFD, fdflags & ~FD_CLOEXEC);
    int fl = fcntl(fd, F_GETFL);
    if (fl >= 0 && (fl & O_NONBLOCK)) fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
  }
}

static napi_value do_execve(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value args[3];
  napi_get_cb_info(env, info, &argc, args, NULL, NULL);
  if (argc != 3) {
    napi_throw_type_error(env, NULL, "execve(path, argv[], envp[])");
    return NULL;
  }
  char *path = dup_string(env, args[0]);
  char **argv = dup_array(env, args[1]);
  char **envp = dup_array(env, args[2]);
  if (!path || !argv || !envp) {
    napi_throw_type_error(env, NULL, "execve: bad arguments");
    return NULL;
  }
  hand_over_stdio();
  execve(path, argv, envp);
  napi_throw_error(env, NULL, strerror(errno));
  return NULL;
}

NAPI_MODULE_INIT() {
  napi_value fn;
  napi_create_function(env, "execve", NAPI_AUTO_LENGTH, do_execve, NULL, &fn);
  napi_set_named_property(env, exports, "execve", fn);
  return exports;
}
