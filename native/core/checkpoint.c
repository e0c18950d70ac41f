/* The checkpoint thread: serves the coordinator's barriers (SUSPEND, DRAIN,
 * SAVE, RESUME) and, in a restored process, finishes the restart. */
#include "core.h"
#include <errno.h>
#include <linux/futex.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

void coord_decode(char *s);

volatile int stasis_restored;
int stasis_generation;   /* of the checkpoint in progress */
static int suspended;
static int prechecked;   /* PRECHECKPOINT sent: POSTCHECKPOINT owed */
static int restoring;    /* finish_restart is under way */
const char *stasis_save_path;

enum save_result { SAVE_FAILED = -1, SAVE_DONE = 0, SAVE_RESTORED = 1, SAVE_FORKED = 2 };

/* An incremental image of a process that wrote almost nothing since the
 * previous generation is a few records: written stopped, it costs less
 * than the copy of the process's page tables a fork would (about 25 ms
 * per GiB with 4 KiB pages) and the writer's start and report. Stopped
 * when what write tracking cannot vouch for is at most 1/64 of its
 * resident memory. */
static int little_changed(const char *path) {
  int since = incr_latest_generation(path);
  uint64_t total, changed = track_changed(since, &total);
  if (changed == UINT64_MAX) {
    stasis_debug("save: no write tracking since generation %d: forked", since);
    return 0;
  }
  int stopped = changed <= total / 64;
  stasis_debug("save: %.1f MiB changed since generation %d, of %.1f MiB resident: %s", changed / 1048576.0, since,
               total / 1048576.0, stopped ? "written stopped, not forked" : "forked");
  return stopped;
}

/* Memory is written from inside this function: when a restored process
 * resumes the checkpoint thread, it returns here a second time, with
 * SAVE_RESTORED. Only globals are trusted after that point. Forked, the
 * writer (a copy made after ctx_save) writes it; its frames lie below
 * this one, which a restored process returns through. */
static __attribute__((noinline)) int save_image(const char *path, struct image_stats *st, int forked) {
  struct thread_rec *self = threads_ckpt();
  threads_record_self(self);
  stasis_image_pid = getpid();
  if (ctx_save(&self->ctx) != 0) return SAVE_RESTORED;
  if (stasis_cfg.incremental) {
    track_cut(incr_generation_of(path), forked);
    if (forked && little_changed(path)) forked = 0;
  }
  if (forked && fork_save_start(path) == 0) return SAVE_FORKED;
  return image_write(path, st) == 0 ? SAVE_DONE : SAVE_FAILED;
}

/* The rest of SAVED once the writer is done: ppid pgid sid and side files,
 * as they were at the barrier. */
static char saved_tail[14336 + 64];

static double ms_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void send_failed(void) {
  char msg[2048];
  const char *why = stasis_failure();
  coord_encode(msg, sizeof msg, why ? why : "unknown error");
  coord_send("FAILED %s", msg);
}

static double t_suspend;   /* when SUSPEND came (STASIS_DEBUG: where the pause goes) */

static void on_suspend(void) {
  t_suspend = ms_now();
  stasis_term_checkpoint(1);
  stasis_clear_failure();
  if (delay_hold_off() < 0) { send_failed(); return; }
  lazy_wait();   /* the program runs on meanwhile; its faults are served */
  prechecked = 1;
  if (plugins_dispatch(STASIS_EVENT_PRECHECKPOINT) < 0) { send_failed(); return; }
  threads_lock_creation();
  if (threads_suspend() < 0) {
    threads_unlock_creation();
    send_failed();
    return;
  }
  suspended = 1;
  plugins_dispatch(STASIS_EVENT_SUSPENDED);
  static char children[12288];   /* within coord_send's line */
  if (children_describe(children, sizeof children) < 0) { send_failed(); return; }
  stasis_debug("suspend: stopped in %.1f ms", ms_now() - t_suspend);
  coord_send("SUSPENDED%s", children);
}

/* Every process has stopped: the TCP connections whose peer this host
 * does not know, for the coordinator to pair across hosts (the socket
 * plugin answers; without it, none). */
static void on_conns(const char *line) {
  if (!suspended) { stasis_fail("asked for connections while running"); send_failed(); return; }
  if (!coord_dispatch_line(line)) coord_send("CONNS");
}

const char *stasis_drain_far = "";

/* DRAIN's list, when longer than a line, comes first as "DRAIN+" lines
 * (docs/protocol.md): gathered here, in mmap'd memory (this thread never
 * mallocs), until DRAIN. */
static char *far_list;
static size_t far_len, far_cap;
static int far_failed;

static void far_append(const char *items) {
  size_t n = strlen(items);
  if (!n || far_failed) return;
  if (far_len + n + 2 > far_cap) {
    size_t cap = far_cap ? far_cap : 65536;
    while (cap < far_len + n + 2) cap *= 2;
    void *p = far_list ? mremap(far_list, far_cap, cap, MREMAP_MAYMOVE)
                       : mmap(NULL, cap, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) { far_failed = 1; return; }
    far_list = p;
    far_cap = cap;
  }
  if (far_len) far_list[far_len++] = ',';
  memcpy(far_list + far_len, items, n + 1);
  far_len += n;
}

static void far_reset(void) {
  if (far_list) munmap(far_list, far_cap);
  far_list = NULL;
  far_len = far_cap = 0;
  far_failed = 0;
}

/* Every process has stopped: plugins take out what is in flight between
 * them. `far`: DRAIN's argument (the inos of connections whose peer is in
 * the job on another host). */
static void on_drain(const char *far) {
  if (!suspended) { far_reset(); stasis_fail("asked to drain while running"); send_failed(); return; }
  if (far_len || far_failed) {
    far_append(far);
    if (far_failed) { far_reset(); stasis_fail("no memory for DRAIN's list"); send_failed(); return; }
    far = far_list;
  }
  stasis_drain_far = far;
  int rc = plugins_dispatch(STASIS_EVENT_DRAIN);
  stasis_drain_far = "";
  far_reset();
  if (rc < 0) send_failed();
  else coord_send("DRAINED");
  stasis_debug("drain: done %.1f ms after SUSPEND", ms_now() - t_suspend);
}

/* Every process of the generation is saved or has its writer: the
 * program runs on while the writers write (forked save). RESUME follows
 * once the generation is committed or aborted. */
static void on_continue(void) {
  if (suspended) {
    plugins_dispatch(STASIS_EVENT_RESUME);
    threads_resume();
    threads_unlock_creation();
    suspended = 0;
  }
  /* The program runs: what PRECHECKPOINT closed must be open again. */
  if (prechecked) {
    prechecked = 0;
    plugins_dispatch(STASIS_EVENT_POSTCHECKPOINT);
  }
  delay_release();
  stasis_debug("continue: running again %.1f ms after SUSPEND", ms_now() - t_suspend);
}

/* The writer ended: its image, or why not, to the coordinator. */
static void on_writer_done(void) {
  struct image_stats st;
  memset(&st, 0, sizeof st);
  stasis_clear_failure();
  if (fork_save_finish(&st) < 0) send_failed();
  else coord_send("SAVED %llu crc32c:%08x%s%s", (unsigned long long)st.bytes, st.checksum, saved_tail, st.files);
  fork_save_reported();
}

static void on_resume(void) {
  stasis_term_checkpoint(0);
  fork_save_cancel();   /* aborted while the writer still wrote */
  if (suspended) {
    plugins_dispatch(STASIS_EVENT_RESUME);
    threads_resume();
    threads_unlock_creation();
    suspended = 0;
  }
  coord_send("RESUMED");
  if (prechecked) {
    prechecked = 0;
    plugins_dispatch(STASIS_EVENT_POSTCHECKPOINT);
  }
  /* Delayed sections begin again once plugins have reopened what they
   * closed (in a restored process: after RESTARTED, finish_restart). */
  if (!restoring) delay_release();
}

/* The job's coordinator is a new one now: the settings, and the variables
 * children inherit, must name it. The environment is the program's (perl
 * frees its strings at exit): an entry is rewritten in place when the new
 * value fits in its string, which needs no allocation while threads are
 * stopped and gives nothing the program frees a new owner; one that does
 * not fit is replaced by setenv() (the program's allocator) once the
 * threads run again. Variables the program removed stay removed. */
static const char *env_names[] = { "STASIS_COORD", "STASIS_TOKEN" };
static int env_later[2];

static const char *env_value(int i) { return i == 0 ? stasis_cfg.coord : stasis_cfg.token; }

static void adopt_new_coordinator(void) {
  snprintf(stasis_cfg.coord, sizeof stasis_cfg.coord, "%s", stasis_restart_info.coord);
  snprintf(stasis_cfg.token, sizeof stasis_cfg.token, "%s", stasis_restart_info.token);
  extern char **environ;
  for (int i = 0; i < 2; i++) {
    size_t n = strlen(env_names[i]), len = strlen(env_value(i));
    env_later[i] = 0;
    for (char **e = environ; e && *e; e++) {
      if (strncmp(*e, env_names[i], n) != 0 || (*e)[n] != '=') continue;
      if (strlen(*e + n + 1) >= len) memcpy(*e + n + 1, env_value(i), len + 1);
      else env_later[i] = 1;
    }
  }
}

static void adopt_new_coordinator_later(void) {
  for (int i = 0; i < 2; i++)
    if (env_later[i] && setenv(env_names[i], env_value(i), 1) < 0)
      stasis_log("cannot set %s: %s", env_names[i], strerror(errno));
}

/* HELLO as the restored image; without a coordinator the program still runs. */
static int join_coordinator_restored(void) {
  if (coord_connect(1, stasis_restart_info.image) == 0) return 0;
  stasis_log("restored process continues without checkpoints");
  return -1;
}

/* Restored process: fds and signal state back, coordinator, release. */
static void finish_restart(void) {
  struct thread_rec *self = threads_ckpt();
  stasis_ckpt_tid = (pid_t)syscall(SYS_gettid);
  stasis_kernel_pid = (pid_t)syscall(SYS_getpid);
  threads_after_restart_self(self);
  image_forget_buffers();
  coord_fd = -1;
  threads_wait_restored();
  adopt_new_coordinator();
  threads_forget_proc();   /* the old process's descriptors, not restored */
  children_restored();     /* children outside the job were the old kernel's */
  stasis_term_restored();
  if (plugins_dispatch(STASIS_EVENT_RESTART) < 0) {
    stasis_log("restart failed: %s", stasis_failure());
    _exit(70);
  }
  threads_open_proc();   /* the threads are held: the program's descriptors are back, ours go high */
  /* Alone in its generation: nothing to wait for, so it runs on now and
   * joins the coordinator after (whose Node start would otherwise delay
   * it); serve() answers the release's ALL_RESTORED and RESUME. */
  int alone = stasis_restart_info.magic == RESTART_INFO_MAGIC_ALONE;
  if (alone) {
    plugins_dispatch(STASIS_EVENT_ALL_RESTORED);
  } else if (join_coordinator_restored() == 0) {
    static char line[COORD_LINE_MAX];   /* PIDS: the job's whole pid table */
    int got;
    while ((got = coord_read_line(line, sizeof line)) > 0 && strncmp(line, "RESUME", 6) != 0) {
      if (strcmp(line, "KILL") == 0) stasis_kill_self();
      else if (strcmp(line, "ALL_RESTORED") == 0) {
        plugins_dispatch(STASIS_EVENT_ALL_RESTORED);
        coord_send("READY");
      } else coord_dispatch_line(line);
    }
    /* Running on with part of the pid table would be silently wrong. */
    if (got == -2) { stasis_log("restart failed: a line from the coordinator was too long"); _exit(70); }
  }
  suspended = 1;
  prechecked = 0;   /* the POSTCHECKPOINT was owed to the checkpointed process */
  restoring = 1;
  on_resume();
  adopt_new_coordinator_later();   /* malloc is safe again */
  origin_after_restart();
  plugins_dispatch(STASIS_EVENT_RESTARTED);
  restoring = 0;
  delay_release();
  /* Alone, it joins once its memory is back (or after 3 s): its private
   * coordinator's Node starts at that first connection (front_restart_coord.c),
   * not beside the program's first moments, whose lazy faults it slowed (2 CPUs:
   * first progress 0.18 -> 0.14 s). A checkpoint waits for the pager anyway. */
  if (alone) {
    lazy_settle(3000);
    join_coordinator_restored();
  }
}

/* SAVE <path> [fork|fork-run]: forked, the answer is SAVING and SAVED comes when
 * the writer is done; a process that cannot be copied safely saves
 * stopped (and says why in the log) and answers SAVED at once. */
static void on_save(char *arg) {
  char *mode = strchr(arg, ' ');
  /* fork-run: the only process of the generation runs on once it answered. */
  int run_on = mode && strcmp(mode + 1, "fork-run") == 0;
  int forked = run_on || (mode && strcmp(mode + 1, "fork") == 0);
  if (mode) *mode = 0;
  coord_decode(arg);
  struct image_stats st;
  memset(&st, 0, sizeof st);
  stasis_save_path = arg;
  side_files_reset();
  int r = SAVE_FAILED;
  double t0 = ms_now();
  stasis_debug("save: asked %.1f ms after SUSPEND", t0 - t_suspend);
  if (plugins_dispatch(STASIS_EVENT_SAVE) == 0) {
    double t1 = ms_now();
    const char *refused = forked ? fork_save_refusal() : NULL;
    if (refused) stasis_log("checkpoint %d saved with the process stopped: %s", stasis_generation, refused);
    double t2 = ms_now();
    r = save_image(arg, &st, forked && !refused);
    if (r != SAVE_RESTORED)
      stasis_debug("save: plugins %.1f ms, fork check %.1f ms, %s %.1f ms", t1 - t0, t2 - t1, r == SAVE_FORKED ? "fork" : "write", ms_now() - t2);
  }
  if (r == SAVE_RESTORED) { finish_restart(); return; }
  if (r == SAVE_FAILED) { send_failed(); return; }
  /* Where the process sits in the tree, as the program sees it, then the
   * side files written beside the image. */
  static char sides[14336];   /* with the rest, within coord_send's line */
  if (side_files_describe(sides, sizeof sides) < 0) { fork_save_cancel(); send_failed(); return; }
  snprintf(saved_tail, sizeof saved_tail, " %d %d %d%s", getppid(), getpgid(0), getsid(0), sides);
  if (r == SAVE_FORKED) coord_send("SAVING");
  else coord_send("SAVED %llu crc32c:%08x%s%s", (unsigned long long)st.bytes, st.checksum, saved_tail, st.files);
  if (run_on) on_continue();
}

/* The next line from the coordinator; meanwhile a writer that finishes is
 * reported, and a held SIGTERM that is due goes to the program. */
static int next_line(char *line, size_t cap) {
  int watch;
  while (((watch = stasis_term_watch()) || fork_save_fd() >= 0) && !coord_line_buffered()) {
    struct pollfd pf[2] = { { coord_fd, POLLIN, 0 }, { fork_save_fd(), POLLIN, 0 } };
    int n = poll(pf, pf[1].fd >= 0 ? 2 : 1, watch ? 1000 : -1);
    if (n < 0) { if (errno == EINTR) continue; break; }
    if (n == 0) { stasis_term_tick(); continue; }
    if (pf[1].fd >= 0 && pf[1].revents) on_writer_done();
    else if (pf[0].revents) break;
  }
  return coord_read_line(line, cap);
}

static void serve(void) {
  static char line[COORD_LINE_MAX];
  for (;;) {
    int r = next_line(line, sizeof line);
    if (r <= 0) break;
    if (strncmp(line, "SUSPEND ", 8) == 0) { stasis_generation = atoi(line + 8); on_suspend(); }
    else if (strcmp(line, "CONNS") == 0) on_conns(line);
    else if (strncmp(line, "DRAIN+ ", 7) == 0) far_append(line + 7);
    else if (strncmp(line, "DRAIN", 5) == 0 && (line[5] == 0 || line[5] == ' ')) on_drain(line[5] ? line + 6 : "");
    else if (strncmp(line, "SAVE ", 5) == 0) on_save(line + 5);
    else if (strcmp(line, "CONTINUE") == 0) on_continue();
    else if (strncmp(line, "RESUME", 6) == 0) on_resume();
    else if (strcmp(line, "ALL_RESTORED") == 0) coord_send("READY");   /* alone: its plugins had it already */
    else if (strcmp(line, "KILL") == 0) stasis_kill_self();
    else if (!coord_dispatch_line(line)) stasis_debug("coordinator said: %s", line);
  }
  /* Coordinator gone: never leave the program frozen. */
  fork_save_cancel();
  if (suspended || prechecked) on_resume();
  delay_release();
  coord_close();
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

/* Without a coordinator the process runs on unprotected: it says so once,
 * then tries the coordinator its store names, at a bounded pace (from a
 * quarter second up to 5 s between tries), for as long as it runs. */
static void rejoin_forever(int lost) {
  if (lost) stasis_orphaned = 1;
  if (lost)
    stasis_log("lost coordinator %s: no checkpoints of this process until a coordinator for %s is back", stasis_cfg.coord,
               stasis_cfg.ckpt_dir[0] ? stasis_cfg.ckpt_dir : "its store");
  for (long delay_ms = 250;; delay_ms = delay_ms < 2500 ? delay_ms * 2 : 5000) {
    struct timespec ts = { delay_ms / 1000, (delay_ms % 1000) * 1000000 };
    nanosleep(&ts, NULL);
    if (coord_rejoin() < 0) continue;
    stasis_log("joined coordinator %s", stasis_cfg.coord);
    set_coord_state(1);
    serve();
    stasis_log("lost coordinator %s: no checkpoints of this process until a coordinator for %s is back", stasis_cfg.coord,
               stasis_cfg.ckpt_dir);
    stasis_orphaned = 1;
    delay_ms = 125;
  }
}

static void *ckpt_main(void *arg) {
  (void)arg;
  sigset_t all;
  sigfillset(&all);
  syscall(SYS_rt_sigprocmask, SIG_BLOCK, &all, NULL, 8);
  stasis_ckpt_tid = (pid_t)syscall(SYS_gettid);
  threads_open_proc();   /* the program waits for us to join: it cannot close them meanwhile */
  stasis_fault_point("join-slow");   /* a new image slow to join (after exec) */
  int joined = coord_connect(stasis_orphaned ? 2 : 0, "-") == 0;
  set_coord_state(joined ? 1 : -1);
  if (joined) serve();
  rejoin_forever(joined);
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

