/* The checkpoint thread: serves the coordinator's barriers (SUSPEND, DRAIN,
 * SAVE, RESUME) and, in a restored process, finishes the restart. */
#include "core.h"
#include <errno.h>
#include <linux/futex.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

void coord_decode(char *s);

volatile int stasis_restored;
int stasis_generation;   /* of the checkpoint in progress */
static volatile int delay_depth;
static int suspended;
const char *stasis_save_path;

enum save_result { SAVE_FAILED = -1, SAVE_DONE = 0, SAVE_RESTORED = 1 };

/* Memory is written from inside this function: when a restored process
 * resumes the checkpoint thread, it returns here a second time, with
 * SAVE_RESTORED. Only globals are trusted after that point. */
static __attribute__((noinline)) int save_image(const char *path, struct image_stats *st) {
  struct thread_rec *self = threads_ckpt();
  threads_record_self(self);
  if (ctx_save(&self->ctx) != 0) return SAVE_RESTORED;
  return image_write(path, st) == 0 ? SAVE_DONE : SAVE_FAILED;
}

static void send_failed(void) {
  char msg[2048];
  const char *why = stasis_failure();
  coord_encode(msg, sizeof msg, why ? why : "unknown error");
  coord_send("FAILED %s", msg);
}

static void wait_for_delay(void) {
  struct timespec ms = { 0, 1000000 };
  while (__atomic_load_n(&delay_depth, __ATOMIC_SEQ_CST) > 0) nanosleep(&ms, NULL);
}

static void on_suspend(void) {
  stasis_clear_failure();
  wait_for_delay();
  threads_lock_creation();
  if (threads_suspend() < 0) {
    threads_unlock_creation();
    send_failed();
    return;
  }
  suspended = 1;
  plugins_dispatch(STASIS_EVENT_SUSPENDED);
  coord_send("SUSPENDED");
}

/* Every process has stopped: plugins take out what is in flight between them. */
static void on_drain(void) {
  if (!suspended) { stasis_fail("asked to drain while running"); send_failed(); return; }
  if (plugins_dispatch(STASIS_EVENT_DRAIN) < 0) send_failed();
  else coord_send("DRAINED");
}

static void on_resume(void) {
  if (suspended) {
    plugins_dispatch(STASIS_EVENT_RESUME);
    threads_resume();
    threads_unlock_creation();
    suspended = 0;
  }
  coord_send("RESUMED");
}

/* The job's coordinator is a new one now: the settings, and the variables
 * children inherit, must name it. No malloc here (a stopped thread may hold
 * its lock): the environment points at static strings instead. */
static void adopt_new_coordinator(void) {
  static char coord_var[sizeof stasis_cfg.coord + 16], token_var[sizeof stasis_cfg.token + 16];
  snprintf(stasis_cfg.coord, sizeof stasis_cfg.coord, "%s", stasis_restart_info.coord);
  snprintf(stasis_cfg.token, sizeof stasis_cfg.token, "%s", stasis_restart_info.token);
  snprintf(coord_var, sizeof coord_var, "STASIS_COORD=%s", stasis_cfg.coord);
  snprintf(token_var, sizeof token_var, "STASIS_TOKEN=%s", stasis_cfg.token);
  extern char **environ;
  for (char **e = environ; e && *e; e++) {
    if (strncmp(*e, "STASIS_COORD=", 13) == 0) *e = coord_var;
    else if (strncmp(*e, "STASIS_TOKEN=", 13) == 0) *e = token_var;
  }
}

/* Restored process: fds and signal state back, coordinator, release. */
static void finish_restart(void) {
  struct thread_rec *self = threads_ckpt();
  stasis_ckpt_tid = (pid_t)syscall(SYS_gettid);
  threads_after_restart_self(self);
  image_forget_buffers();
  coord_fd = -1;
  threads_wait_restored();
  adopt_new_coordinator();
  if (plugins_dispatch(STASIS_EVENT_RESTART) < 0) {
    stasis_log("restart failed: %s", stasis_failure());
    _exit(70);
  }
  if (coord_connect(1, stasis_restart_info.image) < 0) {
    stasis_log("restored process continues without checkpoints");
  } else {
    char line[1024];
    while (coord_read_line(line, sizeof line) > 0 && strncmp(line, "RESUME", 6) != 0) {
      if (strcmp(line, "KILL") == 0) kill(getpid(), SIGKILL);
      else if (strcmp(line, "ALL_RESTORED") == 0) {
        plugins_dispatch(STASIS_EVENT_ALL_RESTORED);
        coord_send("READY");
      } else coord_dispatch_line(line);
    }
  }
  suspended = 1;
  on_resume();
  plugins_dispatch(STASIS_EVENT_RESTARTED);
}

static void on_save(char *arg) {
  coord_decode(arg);
  struct image_stats st = { 0, 0, 0 };
  stasis_save_path = arg;
  side_files_reset();
  int r = plugins_dispatch(STASIS_EVENT_SAVE) < 0 ? SAVE_FAILED : save_image(arg, &st);
  if (r == SAVE_RESTORED) { finish_restart(); return; }
  if (r == SAVE_FAILED) { send_failed(); return; }
  /* Where the process sits in the tree, as the program sees it, then the
   * side files written beside the image. */
  static char sides[14336];   /* with the rest, within coord_send's line */
  if (side_files_describe(sides, sizeof sides) < 0) { send_failed(); return; }
  coord_send("SAVED %llu crc32c:%08x %d %d %d%s", (unsigned long long)st.bytes, st.checksum,
             getppid(), getpgid(0), getsid(0), sides);
}

static void serve(void) {
  char line[8192];
  for (;;) {
    int r = coord_read_line(line, sizeof line);
    if (r <= 0) break;
    if (strncmp(line, "SUSPEND ", 8) == 0) { stasis_generation = atoi(line + 8); on_suspend(); }
    else if (strcmp(line, "DRAIN") == 0) on_drain();
    else if (strncmp(line, "SAVE ", 5) == 0) on_save(line + 5);
    else if (strncmp(line, "RESUME", 6) == 0) on_resume();
    else if (strcmp(line, "KILL") == 0) kill(getpid(), SIGKILL);
    else if (!coord_dispatch_line(line)) stasis_debug("coordinator said: %s", line);
  }
  /* Coordinator gone: never leave the program frozen. */
  if (suspended) on_resume();
  coord_close();
  stasis_debug("coordinator closed the connection; checkpoints stop");
}

volatile int stasis_coord_state;

static void set_coord_state(int state) {
  __atomic_store_n(&stasis_coord_state, state, __ATOMIC_SEQ_CST);
  stasis_syscall_futex(&stasis_coord_state, FUTEX_WAKE, 0x7fffffff, NULL);
}

/* A new process (the child of fork) waits for this before it runs on, so
 * the coordinator knows it before any checkpoint could miss it. */
int ckpt_wait_connected(int timeout_ms) {
  struct timespec tick = { 0, 10 * 1000000 };
  for (int waited = 0; __atomic_load_n(&stasis_coord_state, __ATOMIC_SEQ_CST) == 0 && waited < timeout_ms; waited += 10)
    stasis_syscall_futex(&stasis_coord_state, FUTEX_WAIT, 0, &tick);
  return stasis_coord_state == 1 ? 0 : -1;
}

static void *ckpt_main(void *arg) {
  (void)arg;
  sigset_t all;
  sigfillset(&all);
  syscall(SYS_rt_sigprocmask, SIG_BLOCK, &all, NULL, 8);
  stasis_ckpt_tid = (pid_t)syscall(SYS_gettid);
  if (coord_connect(0, "-") == 0) {
    set_coord_state(1);
    serve();
  } else {
    set_coord_state(-1);
  }
  return NULL;
}

void ckpt_start_thread(void) {
  typedef int (*create_fn)(pthread_t *, const pthread_attr_t *, void *(*)(void *), void *);
  extern void *stasis_next_symbol(const char *);
  create_fn real = (create_fn)stasis_next_symbol("pthread_create");
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setstacksize(&attr, 1 << 20);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  pthread_t th;
  /* Born with every signal blocked: one sent to the process must never land
   * on the checkpoint thread, not even before it runs. */
  sigset_t all, old;
  sigfillset(&all);
  syscall(SYS_rt_sigprocmask, SIG_BLOCK, &all, &old, 8);
  if (real(&th, &attr, ckpt_main, NULL) != 0) stasis_log("cannot start the checkpoint thread");
  syscall(SYS_rt_sigprocmask, SIG_SETMASK, &old, NULL, 8);
  pthread_attr_destroy(&attr);
}

API void stasis_delay_begin(void) { __atomic_add_fetch(&delay_depth, 1, __ATOMIC_SEQ_CST); }
API void stasis_delay_end(void) { __atomic_sub_fetch(&delay_depth, 1, __ATOMIC_SEQ_CST); }
API int stasis_is_enabled(void) { return coord_fd >= 0; }
