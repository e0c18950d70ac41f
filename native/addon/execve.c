/* Node addon: execve(path, argv, envp, mode) replacing the Node process, so
 * that `stasis launch` hands its PID to the native launcher (Node 20 has no
 * execve). Returns only on failure, throwing an Error with errno's message.
 * Before the exec, the descriptors the CLI inherited are put back as it got
 * them (handover.c recorded them before Node started); mode "launch" also
 * records them for the job (anchors, below), "launch-close" closes those
 * above stderr instead of handing them on. */
#include <node_api.h>
#include "../launch/anchors.h"
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int handed[MAX_HANDED], nhanded;

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

/* Without a record (Node started directly, not through bin/stasis.js):
 * stdio made plain and blocking again, and whatever is not close-on-exec
 * above it (Node's own descriptors all are) counts as inherited. */
static void hand_over_guessed(void) {
  for (int fd = 0; fd <= 2; fd++) {
    int fdflags = fcntl(fd, F_GETFD);
    if (fdflags < 0) continue;
    if (fdflags & FD_CLOEXEC) fcntl(fd, F_SETFD, fdflags & ~FD_CLOEXEC);
    int fl = fcntl(fd, F_GETFL);
    if (fl >= 0 && (fl & O_NONBLOCK)) fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
    handed[nhanded++] = fd;
  }
  for (int fd = 3; fd < 65536 && nhanded < MAX_HANDED; fd++) {
    int fdflags = fcntl(fd, F_GETFD);
    if (fdflags >= 0 && !(fdflags & FD_CLOEXEC)) handed[nhanded++] = fd;
  }
}

/* STASIS_HANDOVER (handover.c): "PID;FD:FLAGS ...;FD=MOVED:FLAGS ...". */
static void hand_over(void) {
  const char *rec = getenv("STASIS_HANDOVER");
  char *semi;
  nhanded = 0;
  if (!rec || atoi(rec) != getpid() || !(semi = strchr(rec, ';'))) { hand_over_guessed(); return; }
  const char *s = semi + 1;
  int fd, moved, flags, used;
  while (sscanf(s, "%d:%d %n", &fd, &flags, &used) == 2 && nhanded < MAX_HANDED) {
    fcntl(fd, F_SETFD, 0);
    fcntl(fd, F_SETFL, flags);
    handed[nhanded++] = fd;
    s += used;
  }
  if (*s != ';') return;
  s++;
  while (sscanf(s, "%d=%d:%d %n", &fd, &moved, &flags, &used) == 3 && nhanded < MAX_HANDED) {
    if (moved == fd || dup3(moved, fd, 0) == fd) {
      if (moved != fd) close(moved);
      fcntl(fd, F_SETFD, 0);
      fcntl(fd, F_SETFL, flags);
      handed[nhanded++] = fd;
    }
    s += used;
  }
}

/* While the CLI runs, what it will hand over is close-on-exec, so that the
 * coordinator it starts does not hold the job's inherited pipes. */
static napi_value guard(napi_env env, napi_callback_info info) {
  (void)info;
  const char *rec = getenv("STASIS_HANDOVER");
  const char *s = rec && atoi(rec) == getpid() ? strchr(rec, ';') : NULL;
  s = s ? strchr(s + 1, ';') : NULL;
  int fd, moved, flags, used;
  for (s = s ? s + 1 : NULL; s && sscanf(s, "%d=%d:%d %n", &fd, &moved, &flags, &used) == 3; s += used)
    fcntl(moved, F_SETFD, FD_CLOEXEC);
  napi_value undefined;
  napi_get_undefined(env, &undefined);
  return undefined;
}

static int has_name(const char *entry, const char *name) {
  size_t n = strlen(name);
  return strncmp(entry, name, n) == 0 && entry[n] == '=';
}

static napi_value do_execve(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value args[4];
  napi_get_cb_info(env, info, &argc, args, NULL, NULL);
  if (argc != 4) {
    napi_throw_type_error(env, NULL, "execve(path, argv[], envp[], mode)");
    return NULL;
  }
  char *path = dup_string(env, args[0]);
  char **argv = dup_array(env, args[1]);
  char **envp = dup_array(env, args[2]);
  char *mode = dup_string(env, args[3]);
  if (!path || !argv || !envp || !mode) {
    napi_throw_type_error(env, NULL, "execve: bad arguments");
    return NULL;
  }
  /* Our own record goes; a launch writes the job's. */
  size_t n = 0;
  for (size_t i = 0; envp[i]; i++)
    if (!has_name(envp[i], "STASIS_HANDOVER") && !has_name(envp[i], "STASIS_INHERITED")) envp[n++] = envp[i];
  envp[n] = NULL;
  hand_over();
  static char inherited[MAX_HANDED * 24 + 64];
  if (strncmp(mode, "launch", 6) == 0) {
    if (strcmp(mode, "launch-close") == 0) {
      int kept = 0;
      for (int i = 0; i < nhanded; i++)
        if (handed[i] <= 2) handed[kept++] = handed[i];
        else close(handed[i]);
      nhanded = kept;
    }
    make_anchors(handed, nhanded, inherited, sizeof inherited);
    if (inherited[0]) {
      char **more = realloc(envp, (n + 2) * sizeof *envp);
      if (more) { envp = more; envp[n] = inherited; envp[n + 1] = NULL; }
    }
  }
  execve(path, argv, envp);
  napi_throw_error(env, NULL, strerror(errno));
  return NULL;
}

NAPI_MODULE_INIT() {
  napi_value fn;
  napi_create_function(env, "execve", NAPI_AUTO_LENGTH, do_execve, NULL, &fn);
  napi_set_named_property(env, exports, "execve", fn);
  napi_create_function(env, "guard", NAPI_AUTO_LENGTH, guard, NULL, &fn);
  napi_set_named_property(env, exports, "guard", fn);
  return exports;
}
