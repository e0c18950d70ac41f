/* Library constructor: read the settings, take the suspend signal, start
 * the checkpoint thread. Without STASIS_COORD the library stays dormant. */
#include "core.h"
#include <dlfcn.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

struct stasis_config stasis_cfg;
int stasis_internal_fds[5] = { -1, -1, -1, -1, -1 };
pid_t stasis_kernel_pid;

/* Descriptors a plugin keeps for itself while the program runs (epoll's
 * stand-ins), known by number and inode: in a restored process the number
 * may be the program's again, and is not mistaken for ours. */
#define MAX_KEPT 32
static struct { int fd; dev_t dev; ino_t ino; } kept[MAX_KEPT];

static int still_kept(int i) {
  struct stat st;
  return kept[i].fd >= 0 && fstat(kept[i].fd, &st) == 0 && st.st_dev == kept[i].dev && st.st_ino == kept[i].ino;
}

int stasis_keep_fd(int fd) {
  struct stat st;
  if (fstat(fd, &st) < 0) return -1;
  for (int i = 0; i < MAX_KEPT; i++) {
    if (kept[i].fd > 0 && still_kept(i)) continue;
    kept[i].fd = fd, kept[i].dev = st.st_dev, kept[i].ino = st.st_ino;
    return 0;
  }
  return -1;
}

int stasis_kept_inode(unsigned long long ino) {
  for (int i = 0; i < MAX_KEPT; i++) if (kept[i].fd > 0 && kept[i].ino == ino && still_kept(i)) return 1;
  return 0;
}

int stasis_is_internal_fd(int fd) {
  if (fd < 0) return 0;
  for (int i = 0; i < 5; i++) if (stasis_internal_fds[i] == fd) return 1;
  for (int i = 0; i < MAX_KEPT; i++) if (kept[i].fd > 0 && kept[i].fd == fd && still_kept(i)) return 1;
  return 0;
}

void *stasis_next_symbol(const char *name) { return dlsym(RTLD_NEXT, name); }

/* STASIS_COMPRESS (checked by the CLI; docs/cli.md): zstd (the default,
 * fast level -3), zstd:LEVEL, lz4, lz4:ACCELERATION or none. */
static void compression_from_env(void) {
  const char *comp = getenv("STASIS_COMPRESS");
  stasis_cfg.compress = RECF_ZSTD;
  stasis_cfg.level = -3;
  if (!comp || !*comp || strcmp(comp, "zstd") == 0) return;
  if (strncmp(comp, "zstd:", 5) == 0) { stasis_cfg.level = atoi(comp + 5); return; }
  if (strcmp(comp, "none") == 0) { stasis_cfg.compress = 0; return; }
  if (strncmp(comp, "lz4", 3) == 0 && (comp[3] == 0 || comp[3] == ':')) {
    stasis_cfg.compress = RECF_LZ4;
    stasis_cfg.level = comp[3] ? atoi(comp + 4) : 1;
    if (stasis_cfg.level < 1) stasis_cfg.level = 1;
    return;
  }
  stasis_log("unknown STASIS_COMPRESS '%s': zstd", comp);
}

static void copy_env(char *dst, size_t cap, const char *name) {
  const char *v = getenv(name);
  if (v) { strncpy(dst, v, cap - 1); dst[cap - 1] = 0; }
}

/* A forked child has no checkpoint thread and must not talk on the
 * parent's connection (plugins/proctree starts its own). */
static void in_child(void) {
  stasis_kernel_pid = (pid_t)syscall(SYS_getpid);
  if (coord_fd >= 0) close(coord_fd);
  coord_fd = -1;
  coord_sending = 0;   /* another thread of the parent may have been sending */
  stasis_internal_fds[0] = -1;
  threads_close_proc();   /* the parent's /proc: the child's checkpoint thread opens its own */
  stasis_coord_state = 0;
  threads_reset_after_fork();
  exec_reset_after_fork();
  fork_save_reset_after_fork();
  track_forget();
}

/* exit(): an image still being written is reported first (forked save). */
__attribute__((destructor)) static void stasis_fini(void) { fork_save_wait(); }

__attribute__((constructor)) static void stasis_init(void) {
  copy_env(stasis_cfg.coord, sizeof stasis_cfg.coord, "STASIS_COORD");
  copy_env(stasis_cfg.token, sizeof stasis_cfg.token, "STASIS_TOKEN");
  copy_env(stasis_cfg.ckpt_dir, sizeof stasis_cfg.ckpt_dir, "STASIS_CKPT_DIR");
  copy_env(stasis_cfg.fault, sizeof stasis_cfg.fault, "STASIS_FAULT");
  stasis_debug_on = getenv("STASIS_DEBUG") != NULL;
  stasis_kernel_pid = (pid_t)syscall(SYS_getpid);
  origin_init();
  if (!stasis_cfg.coord[0]) return;
  const char *sig = getenv("STASIS_SIGNAL");
  stasis_cfg.signal = sig ? atoi(sig) : SIGRTMAX - 2;
  if (stasis_cfg.signal <= 0 || stasis_cfg.signal >= NSIG || stasis_cfg.signal == SIGKILL || stasis_cfg.signal == SIGSTOP) {
    stasis_log("bad STASIS_SIGNAL '%s'; checkpointing disabled", sig ? sig : "");
    stasis_cfg.signal = 0;
    return;
  }
  compression_from_env();
  const char *incr = getenv("STASIS_INCREMENTAL");
  stasis_cfg.incremental = incr && strcmp(incr, "1") == 0;
  const char *launched = getenv("STASIS_LAUNCH_TIME");
  stasis_cfg.launch_ns = launched && *launched ? (long long)strtoull(launched, NULL, 10) * 1000000LL : 0;
  threads_install_handler();
  if (getenv("STASIS_HOLD_TERM")) stasis_hold_term();
  pthread_atfork(NULL, NULL, in_child);
  stasis_grow_fd_table();
  ckpt_start_thread();
  /* The program starts once the coordinator knows it: a checkpoint cannot
   * miss a freshly exec'd process, and it sees its pids as the job knows
   * them from its first instruction. */
  ckpt_wait_connected(5000);
}
