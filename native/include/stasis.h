/* stasis public plugin API, version STASIS_API_VERSION (docs/plugin-api.md).
 *
 * A plugin is a shared object (loaded with `stasis launch --with-plugin`,
 * or linked into the program) or an internal module of libstasis: every
 * one registers the same way. It registers a handler that the core calls
 * at each phase of a checkpoint or restart. Plugins keep their state in
 * their own memory: the core saves all memory, so whatever a plugin stored
 * before STASIS_EVENT_SAVE is there again at STASIS_EVENT_RESTART.
 *
 * Programs and plugins link libstasis-client.so (-lstasis-client): it
 * defines every function below as a stub answering STASIS_ERR_NOT_ENABLED.
 * Under stasis, libstasis.so is preloaded, so its definitions come first
 * and the stubs are never reached. Every function is safe to call without
 * stasis. */
#ifndef STASIS_H
#define STASIS_H
#include <stddef.h>
#ifdef __cplusplus
extern "C" {
#endif

/* Bumped when a function or an event is added or changes meaning.
 * 1: the first public version. 2: STASIS_EVENT_THREAD_START and
 * STASIS_EVENT_THREAD_EXIT (a plugin that needs them checks
 * stasis_api_version() >= 2: an older libstasis never sends them). */
#define STASIS_API_VERSION 2

/* The API version of the libstasis running this process (STASIS_API_VERSION
 * it was built with), or 0 when the program runs without stasis. */
int stasis_api_version(void);

/* Return codes. Functions answer STASIS_OK (0) or a negative code;
 * stasis_checkpoint() answers STASIS_CHECKPOINTED or STASIS_RESTARTED. */
#define STASIS_OK                0
#define STASIS_CHECKPOINTED      0   /* the generation is committed; the same process goes on */
#define STASIS_RESTARTED         1   /* going on in a process restored from that generation */
#define STASIS_ERR_NOT_ENABLED  (-1) /* no stasis (client stub), or libstasis without a coordinator */
#define STASIS_ERR_FAILED       (-2) /* the checkpoint failed or the coordinator is unreachable */
#define STASIS_ERR_CONTEXT      (-3) /* not allowed here: inside an event handler, or in this thread's delayed section */
#define STASIS_ERR_INVALID      (-4) /* bad argument, or delay_end without delay_begin */
#define STASIS_ERR_NO_SPACE     (-5) /* a fixed limit is reached (plugins, data records, sizes) */
#define STASIS_ERR_NOT_FOUND    (-6) /* no data saved under that name, no such virtual id */
#define STASIS_ERR_EXPIRED      (-7) /* stasis_delay_end: a checkpoint gave up waiting for this section */

/* A short English description of a return code (never NULL). */
const char *stasis_strerror(int code);

/* Non-zero when running under stasis with a coordinator. */
int stasis_is_enabled(void);

enum stasis_event {
  STASIS_EVENT_SUSPENDED = 1, /* all user threads stopped, before saving */
  STASIS_EVENT_SAVE,          /* record what must be rebuilt; may fail the checkpoint */
  STASIS_EVENT_RESUME,        /* after the image is written, same process continues */
  STASIS_EVENT_RESTART,       /* in the restored process, before threads run again */
  STASIS_EVENT_RESTARTED,     /* in the restored process, once the coordinator released it (alone in its generation: at once) */
  /* In a restored process, before RESTARTED: every process of the job has
   * finished RESTART and knows the job's pid table, and none has let its
   * threads run yet — the moment to take over what another process restored. */
  STASIS_EVENT_ALL_RESTORED,
  /* API version 1. A checkpoint begins: every delayed section has ended
   * (new ones wait), user threads still run. Handlers may allocate, take
   * locks and do I/O (close a database connection); they may refuse the
   * checkpoint (-1 after stasis_fail()). Always followed by
   * STASIS_EVENT_POSTCHECKPOINT in this process, whatever happens next. */
  STASIS_EVENT_PRECHECKPOINT,
  /* API version 1. The checkpoint is over (committed or aborted) and user
   * threads run again, in the process that was checkpointed; the thread
   * that called stasis_checkpoint() may already be running. */
  STASIS_EVENT_POSTCHECKPOINT,
  /* Every process of the job has stopped (between SUSPENDED and SAVE):
   * the moment to take what is in flight between processes out of the
   * kernel (a TCP connection's bytes, plugins/socket/tcp.c). May fail the
   * checkpoint; whatever was taken must be given back at RESUME. */
  STASIS_EVENT_DRAIN,
  /* API version 2. In a thread the program starts with pthread_create(),
   * on that thread, before its start routine runs. */
  STASIS_EVENT_THREAD_START,
  /* API version 2. On a thread started with pthread_create() that ends
   * (its start routine returns, it calls pthread_exit() or is cancelled),
   * on that thread, with its thread-local variables still there — in a
   * restored process too, for a thread that was running at the checkpoint. */
  STASIS_EVENT_THREAD_EXIT
};

/* Order of events. Checkpoint: PRECHECKPOINT, SUSPENDED, SAVE, RESUME,
 * POSTCHECKPOINT (a refused or failed checkpoint stops the sequence and
 * goes to RESUME if SUSPENDED was sent, then POSTCHECKPOINT). Restored
 * process: RESTART, ALL_RESTORED, RESUME (undo what SAVE took out, as in
 * the checkpointed process), RESTARTED.
 *
 * Return 0, or -1 after stasis_fail() to refuse the checkpoint
 * (PRECHECKPOINT, SAVE) or the restart (RESTART). Every handler runs on the
 * checkpoint thread. From SUSPENDED to RESUME and from RESTART to
 * ALL_RESTORED every other thread is stopped: handlers must not take locks
 * user threads may hold (malloc, stdio included) and should use plain
 * system calls. PRECHECKPOINT, POSTCHECKPOINT and RESTARTED run beside the
 * program's threads: anything goes but stasis_checkpoint() and delays.
 * THREAD_START and THREAD_EXIT run on the program's thread itself, beside
 * the others (a checkpoint may stop it inside the handler like anywhere
 * else), under the same rule; their return value is ignored. They reach
 * plugins registered outside libstasis only, and only for threads started
 * while one of them wanted these events (so a plugin registers in a
 * constructor, before the program starts threads). The main thread, the
 * checkpoint thread and threads made without pthread_create() (a raw
 * clone) send none.
 * Unknown events (added by a later version) must be ignored (return 0). */
typedef int (*stasis_event_fn)(enum stasis_event event);

struct stasis_plugin {
  const char *name;
  stasis_event_fn event;
};

/* The plugin structure must stay valid for the life of the process (a
 * static). At most 64 plugins. STASIS_OK, STASIS_ERR_NO_SPACE, or
 * STASIS_ERR_NOT_ENABLED without stasis. */
int stasis_register_plugin(const struct stasis_plugin *plugin);

/* The same, for only some events: `events` is a mask of STASIS_EVENT_BIT()
 * (0: all). A handler that cannot run while threads are stopped (one that
 * enters an interpreter: the Python binding) asks for PRECHECKPOINT,
 * POSTCHECKPOINT and RESTARTED only. */
#define STASIS_EVENT_BIT(e) (1u << (e))
int stasis_register_plugin_for(const struct stasis_plugin *plugin, unsigned int events);

/* Generation of the checkpoint in progress (in a handler), or of the last
 * checkpoint this process took part in or was restored from; 0 before any
 * or without stasis. */
int stasis_checkpoint_generation(void);

/* Kinds of file descriptor. The fd plugin walks the process's descriptors
 * at SAVE (stdio excepted: a restarted job gets new stdio), finds which
 * descriptors share one open file description (dup, dup2, F_DUPFD), and
 * hands each description to the one registered kind whose match() accepts
 * it; the other descriptors of that description are restored as its dups.
 * A descriptor no kind matches refuses the checkpoint with a message naming
 * it. At RESTART every saved descriptor number is first held by a
 * placeholder, then kinds restore in ascending `order` (then fd number):
 * restore() returns a new descriptor, at any free number, and the fd plugin
 * moves it to its old number with its old close-on-exec flag. Objects that
 * refer to other descriptors (epoll) take a higher order than what they
 * refer to. A kind keeps what it saved in its own static or mmap'd memory;
 * the callbacks run on the checkpoint thread with the rule of
 * stasis_event_fn (no malloc, no locks). */
struct stasis_fd {
  int fd;
  int flags;               /* fcntl(F_GETFL): access mode and status flags */
  int cloexec;             /* FD_CLOEXEC was set */
  unsigned int mode;       /* st_mode */
  unsigned long long dev, ino, rdev, size;  /* from fstat */
  const char *target;      /* readlink /proc/self/fd/N: a path, "pipe:[ino]", "anon_inode:[eventfd]" ... */
  const char *fdinfo;      /* text of /proc/self/fdinfo/N; NULL at restore */
};

struct stasis_fd_kind {
  const char *name;        /* "pipe", "eventfd", ... (messages) */
  int order;               /* restore order: lower first; plain files and pipes 0, epoll 10 */
  /* Non-zero when this kind handles the descriptor (cheap, no side effect). */
  int (*match)(const struct stasis_fd *fd);
  /* Record the description; returns a cookie >= 0 handed back to restore(),
   * or -1 after stasis_fail(). */
  int (*save)(const struct stasis_fd *fd);
  /* Optional: every descriptor has been seen; refuse what is incomplete
   * (0, or -1 after stasis_fail()). */
  int (*save_end)(void);
  /* Rebuild the description; returns a new descriptor, or -1 after stasis_fail(). */
  int (*restore)(const struct stasis_fd *fd, int cookie);
  /* Optional: the checkpoint is over (committed or aborted) or the restart
   * is done; put back anything save took out of the kernel (drained data)
   * and forget what was saved. */
  void (*resume)(void);
  /* Optional: stdin/stdout/stderr normally come from whoever restarts the
   * job; return non-zero when this one is the job's own (a pipe between two
   * of its processes, as in `a | b`) and must be saved and restored. */
  int (*stdio_in_job)(const struct stasis_fd *fd);
  /* Optional: at ALL_RESTORED (every process of the job restored, the pid
   * table known, no thread running yet), a descriptor to replace the one
   * restore() made, and its dups — for objects that name another process
   * (a pidfd) — or -1 to keep it (after stasis_log() if something failed). */
  int (*settle)(const struct stasis_fd *fd, int cookie);
};

int stasis_register_fd_kind(const struct stasis_fd_kind *kind);

/* Memory a plugin saves and restores itself (objects shared between
 * processes: MAP_SHARED anonymous memory, /dev/shm files, SysV segments).
 * While writing the image the core asks every claimer about each region it
 * would save; a claimed region is recorded without contents (RGN_OBJECT,
 * docs/image-format.md) and the restart loader maps it from the object the
 * plugin described beside the image (native/plugins/shm/loader.c). claim() runs on
 * the checkpoint thread under the rule of stasis_event_fn. */
typedef int (*stasis_memory_claim_fn)(unsigned long long start, unsigned long long end);
int stasis_register_memory_claim(stasis_memory_claim_fn claim);

/* At RESTART: the path to reopen for a path saved at the checkpoint —
 * itself, or where `stasis restart --path-map OLD=NEW` says it moved.
 * Writes into buf (cap bytes) and returns it. Every plugin that reopens
 * something by path goes through this. */
const char *stasis_restore_path(const char *saved, char *buf, unsigned long cap);

/* Report why a checkpoint or restart cannot proceed (printf-style). The
 * message reaches the coordinator and the user, prefixed with the process. */
void stasis_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Ask for a checkpoint of the whole job and wait until its generation is
 * committed. Returns STASIS_CHECKPOINTED (0) when the program goes on in the
 * process that was checkpointed, STASIS_RESTARTED (1) when it goes on in a
 * process restored from that generation, STASIS_ERR_NOT_ENABLED without
 * stasis, STASIS_ERR_FAILED when the checkpoint failed (the coordinator's
 * reason is logged on stderr) or no coordinator answers, STASIS_ERR_CONTEXT
 * from an event handler or inside the caller's own delayed section. Any
 * thread may call it; other threads are stopped meanwhile like at any
 * checkpoint. */
int stasis_checkpoint(void);

/* Keep checkpoints out of a critical section. A checkpoint requested while
 * any thread of the process is inside one waits for the last to end, then
 * starts before any new one can begin (stasis_delay_begin() waits
 * meanwhile, until the POSTCHECKPOINT or RESTARTED handlers have returned:
 * a section never sees what a plugin is still reopening). Sections nest
 * per thread. The wait is bounded:
 * STASIS_DELAY_TIMEOUT seconds (environment, default 60); past it the
 * checkpoint fails for the whole job ("still inside a delayed section")
 * and stasis_delay_end() of the section it waited for answers
 * STASIS_ERR_EXPIRED. The coordinator only sees the process answer SUSPEND
 * late, so keep sections short.
 * begin: STASIS_OK, STASIS_ERR_NOT_ENABLED, STASIS_ERR_CONTEXT (in a handler).
 * end: STASIS_OK, STASIS_ERR_EXPIRED, STASIS_ERR_INVALID (no open
 * section on this thread), STASIS_ERR_NOT_ENABLED. */
int stasis_delay_begin(void);
int stasis_delay_end(void);
/* The delayed-section timeout in milliseconds, or STASIS_ERR_NOT_ENABLED. */
long stasis_delay_timeout_ms(void);

/* A plugin's own data, kept in the image: the value saved under `name`
 * (up to 63 bytes) before a checkpoint is what stasis_data_load() gives in
 * a process restored from it. Any thread, any event, any time (no malloc;
 * handlers while threads are stopped included). The last save wins; a
 * value is at most 1 MiB, at most 64 names per process. The store lives in
 * the process's memory, which the image records (docs/image-format.md).
 * save: STASIS_OK, STASIS_ERR_INVALID, STASIS_ERR_NO_SPACE, STASIS_ERR_NOT_ENABLED.
 * load: the value's length (copies at most `cap` bytes into buf),
 * STASIS_ERR_NOT_FOUND, STASIS_ERR_INVALID, STASIS_ERR_NOT_ENABLED. */
int stasis_data_save(const char *name, const void *data, size_t len);
long stasis_data_load(const char *name, void *buf, size_t cap);

/* Virtual ids: a table (named, up to 31 bytes) of stable numbers a program
 * keeps for real ids that change when the object behind them is re-made
 * at a restart (a server's backend or session id, a handle a plugin
 * reopens). The table is in the process's memory, so in the image; the
 * plugin that re-makes an object tells it the new real id
 * (stasis_vid_set, at RESTARTED typically). Virtual ids are > 0, never
 * reused within a table; real ids are >= 0. Any thread, any event (no
 * malloc). At most 16 tables and 4096 ids per process.
 * new: a virtual id for `real`, STASIS_ERR_INVALID, _NO_SPACE.
 * real / virtual: the real id of a virtual one, or the virtual id of a
 * real one (the first registered), STASIS_ERR_NOT_FOUND, _INVALID.
 * set / drop: STASIS_OK, STASIS_ERR_NOT_FOUND, _INVALID.
 * Without stasis every call answers STASIS_ERR_NOT_ENABLED. */
long stasis_vid_new(const char *table, long real);
long stasis_vid_real(const char *table, long vid);
long stasis_vid_virtual(const char *table, long real);
int stasis_vid_set(const char *table, long vid, long real);
int stasis_vid_drop(const char *table, long vid);

/* Calling the next definition of a function a plugin wraps (a plugin that
 * defines connect() and must call the real one):
 *   int connect(int fd, const struct sockaddr *a, socklen_t n) {
 *     ... return STASIS_NEXT(connect)(fd, a, n); }
 * It resolves once per call site, relative to the object that expands it
 * (dlsym RTLD_NEXT), so wrappers in several plugins chain. It yields NULL
 * when there is no next definition: check it. A plugin only interposes on
 * the program when it comes before libc in the lookup order: linked into
 * the program or preloaded (LD_PRELOAD) — see docs/plugin-api.md. Do not
 * wrap malloc, calloc or dlsym this way (dlsym may allocate). Needs
 * _GNU_SOURCE and -ldl on old glibc. */
#if defined(_GNU_SOURCE) || defined(STASIS_WANT_NEXT)
#include <dlfcn.h>
#define STASIS_NEXT(fn) (__extension__({ \
    static void *stasis_next_; \
    void *stasis_p_ = __atomic_load_n(&stasis_next_, __ATOMIC_ACQUIRE); \
    if (!stasis_p_) { \
      stasis_p_ = dlsym(RTLD_NEXT, #fn); \
      __atomic_store_n(&stasis_next_, stasis_p_, __ATOMIC_RELEASE); \
    } \
    (__typeof__(&fn))stasis_p_; }))
#endif

#ifdef __cplusplus
}
#endif
#endif
