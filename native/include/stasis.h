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
  STASIS_EVENT_RESTARTED,     /* in the restored process, once the coordinator released it */
  /* In a restored process, before RESTARTED: every process of the job has
   * finished RESTART and knows the job's pid table, and none has let its
   * threads run yet — the moment to take over what another process restored. */
  STASIS_EVENT_ALL_RESTORED,
  /* Every process of the job has stopped (between SUSPENDED and SAVE):
   * the moment to take what is in flight between processes out of the
   * kernel (a TCP connection's bytes, plugins/socket/tcp.c). May fail the
   * checkpoint; whatever was taken must be given back at RESUME. */
  STASIS_EVENT_DRAIN
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

void stasis_register_fd_kind(const struct stasis_fd_kind *kind);

/* Memory a plugin saves and restores itself (objects shared between
 * processes: MAP_SHARED anonymous memory, /dev/shm files, SysV segments).
 * While writing the image the core asks every claimer about each region it
 * would save; a claimed region is recorded without contents (RGN_OBJECT,
 * docs/image-format.md) and the restart loader maps it from the object the
 * plugin described beside the image (native/restart/shm.c). claim() runs on
 * the checkpoint thread under the rule of stasis_event_fn. */
typedef int (*stasis_memory_claim_fn)(unsigned long long start, unsigned long long end);
void stasis_register_memory_claim(stasis_memory_claim_fn claim);

/* At RESTART: the path to reopen for a path saved at the checkpoint —
 * itself, or where `stasis restart --path-map OLD=NEW` says it moved.
 * Writes into buf (cap bytes) and returns it. Every plugin that reopens
 * something by path goes through this. */
const char *stasis_restore_path(const char *saved, char *buf, unsigned long cap);

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
