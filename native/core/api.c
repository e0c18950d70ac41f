/* The public API beyond plugin registration (see include/stasis.h):
 * stasis_checkpoint(), delayed sections, a plugin's own data. */
#include "core.h"
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static int enabled(void) { return stasis_cfg.signal > 0; }
/* In an event handler: on the checkpoint thread, or a thread event's. */
static int on_ckpt_thread(void) {
  return stasis_in_thread_event || (stasis_ckpt_tid && (pid_t)syscall(SYS_gettid) == stasis_ckpt_tid);
}

API int stasis_api_version(void) { return STASIS_API_VERSION; }
API int stasis_is_enabled(void) { return coord_fd >= 0; }
API int stasis_checkpoint_generation(void) {
  extern int stasis_generation;
  return stasis_generation;
}

/* ---- stasis_checkpoint(): the request goes over a connection of its own
 * (the checkpoint thread's is busy serving barriers); the calling thread is
 * suspended like every other while the checkpoint runs, and learns
 * afterwards whether it woke up in the same process or in one restored
 * from the image. */

static __thread int my_delay_depth;   /* this thread's open delayed sections */

static int open_command_connection(void) {
  const char *addr = stasis_restored ? stasis_restart_info.coord : stasis_cfg.coord;
  const char *token = stasis_restored ? stasis_restart_info.token : stasis_cfg.token;
  char host[256];
  snprintf(host, sizeof host, "%s", addr);
  char *colon = strrchr(host, ':');
  if (!colon) return -1;
  *colon = 0;
  struct sockaddr_in sa;
  memset(&sa, 0, sizeof sa);
  sa.sin_family = AF_INET;
  sa.sin_port = htons(atoi(colon + 1));
  if (inet_pton(AF_INET, strcmp(host, "localhost") == 0 ? "127.0.0.1" : host, &sa.sin_addr) != 1) return -1;
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  stasis_internal_fds[1] = fd;
  char hello[256];
  int n = snprintf(hello, sizeof hello, "HELLO 1 %s cmd\nCHECKPOINT\n", token);
  if (connect(fd, (void *)&sa, sizeof sa) < 0 || write(fd, hello, n) != n) {
    close(fd);
    stasis_internal_fds[1] = -1;
    return -1;
  }
  return fd;
}

API int stasis_checkpoint(void) {
  if (!enabled()) return STASIS_ERR_NOT_ENABLED;
  if (on_ckpt_thread() || my_delay_depth > 0) return STASIS_ERR_CONTEXT;
  int before = stasis_restored;
  int fd = open_command_connection();
  if (fd < 0) return STASIS_ERR_FAILED;
  /* Read until the reply to CHECKPOINT (after WELCOME) or the connection
   * disappears, which is what a restored process sees. */
  char buf[512];
  size_t len = 0;
  int lines = 0;
  while (lines < 2 && len < sizeof buf - 1) {
    ssize_t r = read(fd, buf + len, sizeof buf - 1 - len);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
    for (ssize_t i = 0; i < r; i++)
      if (buf[len + i] == '\n') lines++;
    len += r;
  }
  buf[len] = 0;
  int ok = strstr(buf, "\nCHECKPOINTED ") != NULL;
  if (stasis_restored == before) close(fd);
  stasis_internal_fds[1] = -1;
  if (stasis_restored != before) return STASIS_RESTARTED;
  if (!ok) {
    char *err = strstr(buf, "\nERROR ");
    if (err) {
      strtok(err + 1, "\n");
      coord_decode(err + 7);   /* the reason travels percent-encoded (docs/protocol.md) */
    }
    stasis_log("stasis_checkpoint: %s", err ? err + 7 : "no answer from the coordinator");
  }
  return ok ? STASIS_CHECKPOINTED : STASIS_ERR_FAILED;
}

/* ---- Delayed sections. A checkpoint raises `held_off`, then waits for
 * `open_sections` to drop to 0; a section raises `open_sections`, then
 * backs off while `held_off` is up. Both sequentially consistent: either
 * the checkpoint sees the section or the section sees the checkpoint. */
static volatile int open_sections, held_off, expirations;
static __thread int my_expirations;   /* `expirations` when this thread's outer section began */
static long timeout_ms = 60000;

/* Read once, before the program runs (getenv is not safe once it does). */
__attribute__((constructor(202))) static void delay_read_timeout(void) {
  const char *v = getenv("STASIS_DELAY_TIMEOUT");
  if (!v) return;
  char *end;
  long s = strtol(v, &end, 10);
  if (*v == 0 || *end || s < 1 || s > 86400)
    stasis_log("bad STASIS_DELAY_TIMEOUT '%s' (want seconds, 1 to 86400); using 60", v);
  else timeout_ms = s * 1000;
}

API long stasis_delay_timeout_ms(void) { return enabled() ? timeout_ms : STASIS_ERR_NOT_ENABLED; }

static void sleep_ms(long ms) {
  struct timespec ts = { ms / 1000, (ms % 1000) * 1000000 };
  nanosleep(&ts, NULL);
}

API int stasis_delay_begin(void) {
  if (!enabled()) return STASIS_ERR_NOT_ENABLED;
  if (on_ckpt_thread()) return STASIS_ERR_CONTEXT;
  if (my_delay_depth++ > 0) return STASIS_OK;
  for (;;) {
    __atomic_add_fetch(&open_sections, 1, __ATOMIC_SEQ_CST);
    if (!__atomic_load_n(&held_off, __ATOMIC_SEQ_CST)) break;
    __atomic_sub_fetch(&open_sections, 1, __ATOMIC_SEQ_CST);
    /* The checkpoint stops this thread here, outside the section. */
    while (__atomic_load_n(&held_off, __ATOMIC_SEQ_CST)) sleep_ms(1);
  }
  my_expirations = __atomic_load_n(&expirations, __ATOMIC_SEQ_CST);
  return STASIS_OK;
}

API int stasis_delay_end(void) {
  if (!enabled()) return STASIS_ERR_NOT_ENABLED;
  if (my_delay_depth <= 0) return STASIS_ERR_INVALID;
  if (--my_delay_depth > 0) return STASIS_OK;
  __atomic_sub_fetch(&open_sections, 1, __ATOMIC_SEQ_CST);
  return __atomic_load_n(&expirations, __ATOMIC_SEQ_CST) != my_expirations ? STASIS_ERR_EXPIRED : STASIS_OK;
}

static long now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int delay_hold_off(void) {
  __atomic_store_n(&held_off, 1, __ATOMIC_SEQ_CST);
  long deadline = now_ms() + timeout_ms;
  while (__atomic_load_n(&open_sections, __ATOMIC_SEQ_CST) > 0) {
    if (now_ms() >= deadline) {
      __atomic_add_fetch(&expirations, 1, __ATOMIC_SEQ_CST);
      delay_release();
      stasis_fail("still inside a delayed section after %ld s (STASIS_DELAY_TIMEOUT)", timeout_ms / 1000);
      return -1;
    }
    sleep_ms(1);
  }
  return 0;
}

void delay_release(void) { __atomic_store_n(&held_off, 0, __ATOMIC_SEQ_CST); }

/* A forked child has only the thread that forked: its sections are the
 * only ones open, and no checkpoint of the child is under way. */
static void delay_in_child(void) {
  open_sections = my_delay_depth > 0;
  held_off = 0;
}

__attribute__((constructor(202))) static void delay_atfork(void) { pthread_atfork(NULL, NULL, delay_in_child); }

/* ---- A plugin's own data: named values, each in an anonymous mapping of
 * its own (no malloc: saves happen while threads are stopped), so they are
 * in the image like any memory. A spin lock taken with every signal
 * blocked: no thread is ever stopped while holding it. */
#define MAX_DATA 64
#define MAX_DATA_LEN (1 << 20)
struct data_rec { char name[64]; void *mem; size_t len, cap; };
static struct data_rec data[MAX_DATA];
static volatile int data_lock;

static void data_enter(sigset_t *old) {
  sigset_t all;
  sigfillset(&all);
  syscall(SYS_rt_sigprocmask, SIG_BLOCK, &all, old, 8);
  while (__atomic_exchange_n(&data_lock, 1, __ATOMIC_ACQUIRE)) sched_yield();
}

static void data_leave(sigset_t *old) {
  __atomic_store_n(&data_lock, 0, __ATOMIC_RELEASE);
  syscall(SYS_rt_sigprocmask, SIG_SETMASK, old, NULL, 8);
}

static struct data_rec *data_find(const char *name, int create) {
  for (int i = 0; i < MAX_DATA; i++)
    if (data[i].name[0] && strcmp(data[i].name, name) == 0) return &data[i];
  if (create)
    for (int i = 0; i < MAX_DATA; i++)
      if (!data[i].name[0]) return &data[i];
  return NULL;
}

static int name_ok(const char *name) { return name && name[0] && strlen(name) < sizeof data[0].name; }

API int stasis_data_save(const char *name, const void *value, size_t len) {
  if (!name_ok(name) || (len && !value)) return STASIS_ERR_INVALID;
  if (len > MAX_DATA_LEN) return STASIS_ERR_NO_SPACE;
  sigset_t old;
  data_enter(&old);
  int rc = STASIS_OK;
  struct data_rec *d = data_find(name, 1);
  if (!d) rc = STASIS_ERR_NO_SPACE;
  else {
    if (len > d->cap) {
      size_t cap = (len + 4095) & ~(size_t)4095;
      void *m = mmap(NULL, cap, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
      if (m == MAP_FAILED) rc = STASIS_ERR_NO_SPACE;
      else {
        if (d->mem) munmap(d->mem, d->cap);
        d->mem = m;
        d->cap = cap;
      }
    }
    if (rc == STASIS_OK) {
      if (len) memcpy(d->mem, value, len);
      d->len = len;
      if (!d->name[0]) snprintf(d->name, sizeof d->name, "%s", name);
    }
  }
  data_leave(&old);
  return rc;
}

API long stasis_data_load(const char *name, void *buf, size_t cap) {
  if (!name_ok(name) || (cap && !buf)) return STASIS_ERR_INVALID;
  sigset_t old;
  data_enter(&old);
  struct data_rec *d = data_find(name, 0);
  long rc = d ? (long)d->len : STASIS_ERR_NOT_FOUND;
  if (d) memcpy(buf, d->mem, d->len < cap ? d->len : cap);
  data_leave(&old);
  return rc;
}
