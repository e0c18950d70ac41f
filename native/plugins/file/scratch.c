/* Scratch files the process made and closed (DESIGN: "Files the job
 * writes"). sort writes its temporary files, closes them, and opens them
 * again to merge, deleting each once merged; a compiler driver does the same
 * with its intermediate files. A checkpoint between the write and the read
 * finds no descriptor, and the run killed after the checkpoint deletes them
 * (a requeued job on another node finds /tmp empty anyway). So this process
 * remembers each regular file it creates under a scratch directory ($TMPDIR,
 * /tmp, /var/tmp, /dev/shm) — through open, openat, creat, fopen and the
 * mkstemp family, the calls programs make — and at SAVE captures those that
 * still exist (up to STASIS_CAPTURE_MAX each); at RESTART one missing or
 * different is written back. A file made by another process of the job
 * (`mktemp` in a shell script) is not remembered here. */
#include "../../core/core.h"
#include "../fd/fdutil.h"
#include "written.h"
#include <dlfcn.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/syscall.h>

/* sort -S 64K of 38 MB keeps some 2000 temporary files at once. The table
 * is mmap'd once and its pages filled in order, so an image holds only the
 * slots ever used (untouched pages are zero and skipped). */
#define MAX_MADE 8192
enum { FREE, BUSY, KNOWN };   /* slot states: claimed by CAS, never locked */
struct made {
  _Atomic int state;
  unsigned long long dev, ino, size;
  unsigned int mode;
  char *data;                 /* captured at SAVE, until RESUME or RESTARTED */
  char path[512];
};
static _Atomic int top;       /* slots below it have been used */
static struct made *made;     /* mmap'd on the first scratch file */

/* The program's calls, not stasis's own (images, files put back). */
static int active(void) { return stasis_cfg.signal > 0 && (pid_t)syscall(SYS_gettid) != stasis_ckpt_tid; }

static struct made *table(void) {
  if (!made) {
    struct made *t = fdu_alloc(sizeof(struct made) * MAX_MADE);
    struct made *none = NULL;
    if (t && !atomic_compare_exchange_strong((_Atomic(struct made *) *)&made, &none, t)) fdu_free(t, sizeof(struct made) * MAX_MADE);
  }
  return made;
}

/* Slots whose file is gone (or another file now) are free again. */
static void prune(struct made *t) {
  for (int i = 0; i < atomic_load(&top); i++) {
    int known = KNOWN;
    if (!atomic_compare_exchange_strong(&t[i].state, &known, BUSY)) continue;
    struct stat st;
    int gone = stat(t[i].path, &st) < 0 || st.st_dev != t[i].dev || st.st_ino != t[i].ino;
    atomic_store(&t[i].state, gone ? FREE : KNOWN);
  }
}

static int claim(struct made *t) {
  for (int i = 0; i < MAX_MADE; i++) {
    int free_ = FREE;
    if (atomic_compare_exchange_strong(&t[i].state, &free_, BUSY)) {
      int seen = atomic_load(&top);
      while (seen <= i && !atomic_compare_exchange_weak(&top, &seen, i + 1)) {}
      return i;
    }
  }
  return -1;
}

/* After a call that may have created the file open on fd. */
static void note(int fd) {
  if (fd < 0 || !active()) return;
  int saved = errno;
  char link[64], path[sizeof made->path];
  snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
  ssize_t n = readlink(link, path, sizeof path - 1);
  struct stat st;
  struct made *t;
  if (n <= 0 || n >= (ssize_t)sizeof path - 1) goto out;
  path[n] = 0;
  int in_store = stasis_cfg.ckpt_dir[0] && strncmp(path, stasis_cfg.ckpt_dir, strlen(stasis_cfg.ckpt_dir)) == 0;
  if (!in_scratch_dir(path) || in_store || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || !(t = table())) goto out;
  /* Known by this inode: the same file (perhaps renamed), or a deleted
   * one whose inode number the kernel gave again — the name is the new one. */
  for (int i = 0; i < atomic_load(&top); i++) {
    int known = KNOWN;
    if (atomic_load(&t[i].state) != KNOWN || t[i].dev != st.st_dev || t[i].ino != st.st_ino) continue;
    if (strcmp(t[i].path, path) == 0) goto out;
    if (!atomic_compare_exchange_strong(&t[i].state, &known, BUSY)) continue;
    memcpy(t[i].path, path, (size_t)n + 1);
    atomic_store(&t[i].state, KNOWN);
    goto out;
  }
  int i = claim(t);
  if (i < 0) { prune(t); i = claim(t); }
  if (i < 0) {   /* said once: a restart may then miss them */
    static _Atomic int said;
    if (!atomic_exchange(&said, 1)) stasis_log("more than %d scratch files at once: %s and later ones are not captured", MAX_MADE, path);
    goto out;
  }
  t[i].dev = st.st_dev; t[i].ino = st.st_ino; t[i].data = NULL;
  memcpy(t[i].path, path, (size_t)n + 1);
  atomic_store(&t[i].state, KNOWN);
out:
  errno = saved;
}

static int creates(int flags) { return (flags & O_CREAT) != 0; }
/* O_TMPFILE takes a mode too, and makes a file with no name (not noted). */
static int needs_mode(int flags) { return creates(flags) || (flags & O_TMPFILE) == O_TMPFILE; }
static int creates_stream(const char *mode) { return mode && (mode[0] == 'w' || mode[0] == 'a'); }

/* The calls, resolved before the program runs (dlsym may allocate). */
typedef int (*open_fn)(const char *, int, ...);
typedef int (*openat_fn)(int, const char *, int, ...);
typedef int (*open2_fn)(const char *, int);
typedef int (*openat2_fn)(int, const char *, int);
typedef int (*creat_fn)(const char *, mode_t);
typedef FILE *(*fopen_fn)(const char *, const char *);
typedef int (*mkstemp_fn)(char *);
typedef int (*mkostemp_fn)(char *, int);
typedef int (*mkstemps_fn)(char *, int);
typedef int (*mkostemps_fn)(char *, int, int);
static open_fn r_open, r_open64;
static openat_fn r_openat, r_openat64;
static open2_fn r_open_2, r_open64_2;
static openat2_fn r_openat_2, r_openat64_2;
static creat_fn r_creat, r_creat64;
static fopen_fn r_fopen, r_fopen64;
static mkstemp_fn r_mkstemp, r_mkstemp64;
static mkostemp_fn r_mkostemp, r_mkostemp64;
static mkstemps_fn r_mkstemps, r_mkstemps64;
static mkostemps_fn r_mkostemps, r_mkostemps64;

static void forget_all_in_child(void) {
  /* The parent made them: it keeps them, a forked child does not. */
  if (made) for (int i = 0; i < atomic_load(&top); i++) atomic_store(&made[i].state, FREE);
  atomic_store(&top, 0);
}

__attribute__((constructor(210))) static void scratch_resolve(void) {
#define R(v, name) if (!v) v = (__typeof__(v))dlsym(RTLD_NEXT, name)
  R(r_open, "open"); R(r_open64, "open64"); R(r_openat, "openat"); R(r_openat64, "openat64");
  R(r_open_2, "__open_2"); R(r_open64_2, "__open64_2"); R(r_openat_2, "__openat_2"); R(r_openat64_2, "__openat64_2");
  R(r_creat, "creat"); R(r_creat64, "creat64"); R(r_fopen, "fopen"); R(r_fopen64, "fopen64");
  R(r_mkstemp, "mkstemp"); R(r_mkstemp64, "mkstemp64"); R(r_mkostemp, "mkostemp"); R(r_mkostemp64, "mkostemp64");
  R(r_mkstemps, "mkstemps"); R(r_mkstemps64, "mkstemps64"); R(r_mkostemps, "mkostemps"); R(r_mkostemps64, "mkostemps64");
#undef R
  pthread_atfork(NULL, NULL, forget_all_in_child);
}

/* A call before the constructor (another library's) resolves them first. */
#define READY() do { if (!r_mkostemps64) scratch_resolve(); } while (0)
#define MODE_ARG(flags) READY(); mode_t mode = 0; \
  if (needs_mode(flags)) { va_list ap; va_start(ap, flags); mode = va_arg(ap, mode_t); va_end(ap); }
#define NOTED(call, flags) READY(); int fd = call; if (creates(flags)) note(fd); return fd

API int open(const char *p, int flags, ...) { MODE_ARG(flags); NOTED(r_open(p, flags, mode), flags); }
API int open64(const char *p, int flags, ...) { MODE_ARG(flags); NOTED(r_open64(p, flags, mode), flags); }
API int openat(int d, const char *p, int flags, ...) { MODE_ARG(flags); NOTED(r_openat(d, p, flags, mode), flags); }
API int openat64(int d, const char *p, int flags, ...) { MODE_ARG(flags); NOTED(r_openat64(d, p, flags, mode), flags); }
API int __open_2(const char *p, int flags) { NOTED(r_open_2(p, flags), flags); }
API int __open64_2(const char *p, int flags) { NOTED(r_open64_2(p, flags), flags); }
API int __openat_2(int d, const char *p, int flags) { NOTED(r_openat_2(d, p, flags), flags); }
API int __openat64_2(int d, const char *p, int flags) { NOTED(r_openat64_2(d, p, flags), flags); }
API int creat(const char *p, mode_t m) { READY(); int fd = r_creat(p, m); note(fd); return fd; }
API int creat64(const char *p, mode_t m) { READY(); int fd = r_creat64(p, m); note(fd); return fd; }
API FILE *fopen(const char *p, const char *m) { READY(); FILE *f = r_fopen(p, m); if (f && creates_stream(m)) note(fileno(f)); return f; }
API FILE *fopen64(const char *p, const char *m) { READY(); FILE *f = r_fopen64(p, m); if (f && creates_stream(m)) note(fileno(f)); return f; }
API int mkstemp(char *t) { READY(); int fd = r_mkstemp(t); note(fd); return fd; }
API int mkstemp64(char *t) { READY(); int fd = r_mkstemp64(t); note(fd); return fd; }
API int mkostemp(char *t, int fl) { READY(); int fd = r_mkostemp(t, fl); note(fd); return fd; }
API int mkostemp64(char *t, int fl) { READY(); int fd = r_mkostemp64(t, fl); note(fd); return fd; }
API int mkstemps(char *t, int s) { READY(); int fd = r_mkstemps(t, s); note(fd); return fd; }
API int mkstemps64(char *t, int s) { READY(); int fd = r_mkstemps64(t, s); note(fd); return fd; }
API int mkostemps(char *t, int s, int fl) { READY(); int fd = r_mkostemps(t, s, fl); note(fd); return fd; }
API int mkostemps64(char *t, int s, int fl) { READY(); int fd = r_mkostemps64(t, s, fl); note(fd); return fd; }

static void release(void) {
  for (int i = 0; made && i < top; i++)
    if (made[i].data) { fdu_free_copy(made[i].data, made[i].size); made[i].data = NULL; }
}

/* Every thread is stopped: no slot changes meanwhile (one left BUSY by a
 * stopped thread is skipped). */
static int save(void) {
  int kept = 0, gone = 0, busy = 0;
  release();   /* what an aborted checkpoint left */
  for (int i = 0; made && i < top; i++) {
    struct made *m = &made[i];
    if (atomic_load(&m->state) != KNOWN) { busy += atomic_load(&m->state) == BUSY; continue; }
    struct stat st;
    int fd = open(m->path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);   /* r_open: not noted again */
    if (fd < 0 || fstat(fd, &st) < 0 || st.st_dev != m->dev || st.st_ino != m->ino) {
      if (fd >= 0) close(fd);
      atomic_store(&m->state, FREE);   /* deleted, or another file by that name */
      gone++;
      continue;
    }
    if (written_holds(m->dev, m->ino)) { close(fd); continue; }   /* open: captured with its descriptor (the fd plugin saves first) */
    if ((unsigned long long)st.st_size > capture_max()) {
      stasis_debug("%s (%lld bytes): scratch file too large to capture", m->path, (long long)st.st_size);
      close(fd);
      continue;
    }
    m->size = (unsigned long long)st.st_size;
    m->mode = st.st_mode;
    m->data = fdu_copy_out(fd, O_RDONLY, m->size);
    close(fd);
    if (!m->data) { stasis_fail("cannot capture %s, which the program made: %s", m->path, strerror(errno)); return -1; }
    kept++;
  }
  stasis_debug("scratch files: %d captured, %d gone since, %d being noted", kept, gone, busy);
  return 0;
}

static int restore(void) {
  int back = 0;
  for (int i = 0; made && i < top; i++) {
    struct made *m = &made[i];
    if (atomic_load(&m->state) != KNOWN || !m->data) continue;
    back++;
    char path[4096];
    stasis_restore_path(m->path, path, sizeof path);
    if (put_back(path, m->data, m->size, m->mode, 1) < 0) return -1;
    struct stat st;   /* perhaps a new file: the one to capture from now on */
    if (stat(path, &st) == 0 && strlen(path) < sizeof m->path) { m->dev = st.st_dev; m->ino = st.st_ino; memcpy(m->path, path, strlen(path) + 1); }
  }
  stasis_debug("scratch files: %d put back", back);
  return 0;
}

static int scratch_event(enum stasis_event ev) {
  switch (ev) {
  case STASIS_EVENT_SAVE: return save();
  case STASIS_EVENT_RESTART: return restore();
  case STASIS_EVENT_RESUME: case STASIS_EVENT_RESTARTED: release(); return 0;
  default: return 0;
  }
}

static const struct stasis_plugin scratch_plugin = { "scratch files", scratch_event };
STASIS_REGISTER static void scratch_register(void) { stasis_register_plugin(&scratch_plugin); }
