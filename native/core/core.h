/* Internal interfaces of libstasis. */
#ifndef STASIS_CORE_H
#define STASIS_CORE_H
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <signal.h>
#include "ctx.h"
#include "image_format.h"
#include "../include/stasis.h"

#define API __attribute__((visibility("default")))
/* Plugins register in constructors that run before the core's own
 * (init.c, default priority), which connects to the coordinator: every
 * handler is in place by then. */
#define STASIS_REGISTER __attribute__((constructor(200)))
#define MAX_THREADS 1024

/* log.c */
void stasis_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void stasis_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
extern int stasis_debug_on;
const char *stasis_failure(void);   /* message set by stasis_fail, or NULL */
void stasis_clear_failure(void);

/* init.c: settings from the environment */
struct stasis_config {
  char coord[256];
  char token[128];
  char ckpt_dir[1024];
  int signal;          /* the suspend signal (STASIS_SIGNAL, default SIGUSR2) */
  int compress;        /* 0 none, RECF_ZSTD, RECF_LZ4 */
  int level;           /* zstd level (negative = fast modes) or lz4 acceleration */
  int incremental;     /* STASIS_INCREMENTAL=1: unchanged chunks are referenced (incremental.c) */
  long long launch_ns; /* STASIS_LAUNCH_TIME (ms) in ns: when the job started; 0 unknown */
  char fault[64];      /* STASIS_FAULT: fault-injection point for tests */
};
extern struct stasis_config stasis_cfg;
extern int stasis_internal_fds[5];  /* fds the core owns (skipped by plugins) */
extern pid_t stasis_kernel_pid;     /* the kernel's pid of the process owning this memory */
int stasis_real_sigaction(int sig, const struct sigaction *act, struct sigaction *old);
/* The coordinator's KILL: every fn registered runs, then SIGKILL (kill.c). */
void stasis_at_kill(void (*fn)(void));
void stasis_kill_self(void) __attribute__((noreturn));
int stasis_is_internal_fd(int fd);
/* A descriptor a plugin keeps beside the program (high, close-on-exec):
 * skipped like the core's own (0, -1 when the table is full). */
int stasis_keep_fd(int fd);
int stasis_kept_inode(unsigned long long ino);   /* a kept descriptor has this inode */

/* threads.c */
struct thread_rec {
  pid_t tid;
  pid_t saved_tid;       /* restart: the tid it had when the image was saved */
  int is_main, is_ckpt;
  uint64_t fs_base;
  pid_t *ctid;           /* glibc's struct pthread tid (clear_child_tid) */
  stack_t altstack;
  char name[16];
  struct stasis_ctx ctx; /* inside the suspend handler (or the save step) */
  void *uc;              /* user threads: the interrupted context (ucontext_t), hooks may edit it */
  int restored;          /* released in a restored process (for the resuming hooks) */
};
extern struct thread_rec stasis_threads[MAX_THREADS];
extern int stasis_nthreads;
extern pid_t stasis_ckpt_tid;
void threads_install_handler(void);
/* proc_stat.c: "/proc/PID/NAME", and /proc/PID/stat's state and parent
 * (NULL when gone); buf holds the line, the name in parentheses. System
 * calls only. */
void stasis_proc_path(char *out, pid_t pid, const char *name);
const char *stasis_proc_stat(pid_t pid, char *buf, size_t cap, char *state, pid_t *ppid);
/* term_hold.c: SIGTERM held for the job driver (STASIS_HOLD_TERM) */
void stasis_hold_term(void);
int stasis_term_sigaction(const struct sigaction *act, struct sigaction *old);   /* 1: done here, -1: failed, 0: not held */
int stasis_term_watch(void);   /* SIGTERM is held: call stasis_term_tick every second */
void stasis_term_tick(void);   /* a held SIGTERM that is due acts */
void stasis_term_checkpoint(int running);   /* a checkpoint began (1) or ended (0) */
void stasis_term_restored(void);  /* a held SIGTERM ended the old job: forgotten */
void stasis_siginfo_fixup(siginfo_t *si);   /* wrappers.c: a sender's kernel pid as the program knows it */
int threads_suspend(void);          /* 0, or -1 with stasis_fail */
void threads_resume(void);
void threads_record_self(struct thread_rec *t);
void threads_after_restart_self(struct thread_rec *t);
void threads_recreate(void);        /* restart: clone every thread but the caller */
void threads_wait_restored(void);
void threads_lock_creation(void);
void threads_unlock_creation(void);
void stasis_creation_enter(void);   /* around fork/pthread_create: no checkpoint meanwhile */
void stasis_creation_leave(void);
void threads_reset_after_fork(void);
/* The checkpoint thread's own views of /proc, read while the program runs
 * (threads.c): opened only while the program cannot run, kept high. */
void threads_open_proc(void);
void threads_close_proc(void);
void threads_forget_proc(void);
int threads_task_dir(void);                      /* /proc/self/task, rewound; -1 if none */
ssize_t threads_main_status(char *buf, size_t cap);  /* the main thread's status; -1 if none */
int stasis_move_high(int fd);       /* coord.c: fd moved out of the program's way (high, close-on-exec) */
void stasis_grow_fd_table(void);    /* coord.c: the table grown to those numbers while single-threaded */
void exec_reset_after_fork(void);   /* exec.c */
/* exec.c: a plugin may run another program in place of the one a job
 * process execs (plugins/ssh: ssh, rsh, srun through the relay). Called in
 * the exec call, with the path the kernel would run (after the PATH
 * search of execvp and the like); 1 and `rw` filled to run rw->path with
 * argv = rw->prefix, then the original argv (its argv[0] included);
 * 0 to leave the exec alone. No allocation (a vfork child may exec). */
struct exec_rewrite { const char *path; const char *prefix[8]; int nprefix; };
typedef int (*exec_rewrite_fn)(const char *path, char *const argv[], struct exec_rewrite *rw);
int exec_register_rewrite(exec_rewrite_fn fn);   /* 0, or -1 when full */
struct thread_rec *threads_main(void);
struct thread_rec *threads_ckpt(void);

/* Work a plugin does on every user thread, on that thread, inside its
 * suspend handler (every signal blocked) — for what only the thread itself
 * can reach, like the signals pending for it alone. begin() runs on the
 * checkpoint thread before any thread is asked to stop (the previous
 * checkpoint's threads have all left their handlers); it may refuse the
 * checkpoint (-1 after stasis_fail, else 0). suspended() runs
 * just before the thread counts as stopped; resuming() once it is
 * released, before it returns to the program, in this process or in a
 * restored one: `stopped_tid` is the kernel tid it had when it stopped,
 * t->restored says which, and t->uc is where the thread goes back to.
 * Any of the three may be NULL; the rule of stasis_event_fn applies. */
struct stasis_thread_hooks {
  int (*begin)(void);
  void (*suspended)(struct thread_rec *t);
  void (*resuming)(struct thread_rec *t, pid_t stopped_tid);
};
void stasis_register_thread_hooks(const struct stasis_thread_hooks *h);

/* wrappers.c: run on the siginfo of every signal a program's SA_SIGINFO
 * handler gets, before the handler (one plugin: pid). */
void stasis_set_siginfo_fixup(void (*fn)(siginfo_t *));

/* memory.c */
struct region {
  uint64_t start, end, offset;
  uint32_t prot, flags;
  char path[512];
  uint64_t ino;                 /* of the mapped file, as /proc/self/maps says */
  unsigned int dev_major, dev_minor;
  struct file_ident ident;      /* RGN_MAPFILE: the file, checked again at restart (file_map.c) */
};
struct memory_map {
  struct region *regions;
  int count, cap;
  uint64_t vvar[2], vclock[2], vdso[2];
};
int memory_read_map(struct memory_map *map);  /* uses mmap'd storage, no malloc */
void memory_free_map(struct memory_map *map);
void memory_forget_buffers(void);

/* image_write.c */
/* files: what SAVED reports besides the image (" index:..." and " ref:..."
 * tokens of incremental images, docs/protocol.md), "" otherwise. */
struct image_stats { uint64_t bytes, memory_bytes; uint32_t checksum; char files[1024]; };
int image_write(const char *path, struct image_stats *st);
void image_forget_buffers(void);

/* workers.c: raw helper threads for the checkpoint's work on every CPU. */
#define WORKERS_MAX 8
struct workers {
  void (*fn)(void *);
  void *arg;
  char *stacks;
  int stacks_n, started;
  volatile int alive[WORKERS_MAX];   /* cleared by the kernel when each exits */
};
void *workers_map(size_t n);            /* n bytes of fresh private memory, or NULL */
int workers_cpus(void);                 /* CPUs this process may run on */
int workers_start(struct workers *ws, int n, void (*fn)(void *), void *arg);   /* how many started */
void workers_join(struct workers *ws);

/* image_pack.c: memory windows scanned, compressed and checksummed on the
 * workers, handed to the image writer in order. */
struct pack_window { uint64_t start, end; int scan, raw; };   /* scan: image_scan_window's use_pagemap; raw: not compressed */
struct pack_run { uint64_t addr, len, stored; const void *data; uint32_t crc; int flags; };
struct pack;
struct pack *pack_begin(const struct pack_window *windows, size_t n, int compress, int level);
/* Waits for window k (taken in order from 0), then gives its runs. */
size_t pack_take(struct pack *p, size_t k, const struct pack_run **runs);
void pack_release(struct pack *p, size_t k);
void pack_end(struct pack *p, double *t_compress, double *t_crc, int *threads);

/* incremental.c: chunks unchanged since the previous generation (by
 * content hash) become REF records to the file that holds them. */
struct incr_run { uint64_t addr, len, hash[2]; int hashed, match; };
int incr_begin(const char *path);      /* 1: a previous index was read (plan first) */
void incr_window(uint64_t start, uint64_t end, int use_pagemap);   /* memory to plan (cut at 8 MiB boundaries) */
/* Scans and hashes the windows (every CPU), looks the runs up, chooses the
 * files worth referencing and links them. */
void incr_plan_done(void);
enum { SCAN_ANON = 1, SCAN_MAPFILE = 2 };   /* image_scan_window's use_pagemap (image_write.c) */
void image_scan_window(uint64_t start, uint64_t end, int use_pagemap, void (*emit)(uint64_t, uint64_t, void *), void *arg);
const struct incr_run *incr_planned(size_t *n);   /* the runs, in the order they are written */
/* Writing pass: the planned run, or NULL; when its match is usable, *name,
 * *offset and *header_crc say what to reference. */
struct incr_run *incr_next(uint64_t addr, uint64_t len, const char **name, uint64_t *offset, uint32_t *header_crc);
void incr_written(struct incr_run *r, uint64_t addr, uint64_t len, const void *raw, uint64_t rec_off, uint64_t stored,
                  uint32_t header_crc);
void incr_referenced(struct incr_run *r);
/* After the image is whole: writes PATH.index, drops unused links, fills st->files. */
int incr_finish(const char *path, struct image_stats *st);
void incr_end(void);

/* write_track.c: what the program wrote between two cuts (userfaultfd
 * WP_ASYNC + PAGEMAP_SCAN), so unchanged memory is not even read. */
struct written_range { uint64_t start, end; };
void track_cut(int generation, int estimate);   /* at the cut, stopped: asks, protects again; estimate: for track_changed */
/* 1: [start, end) was not written since the cut of generation `since`. */
int track_unwritten(int since, uint64_t start, uint64_t end);
/* Bytes of memory the image holds that the last cut cannot vouch for as
 * unwritten since generation `since`'s cut (UINT64_MAX: unknown); *total:
 * the process's resident bytes at the cut. */
uint64_t track_changed(int since, uint64_t *total);
int incr_latest_generation(const char *path);
int task_children(int (*each)(const char *pid, void *arg), void *arg);   /* children.c */   /* the store's `latest` with an index for this image, or 0 */
void track_forget(void);          /* a restored process, a forked child */
int incr_generation_of(const char *path);   /* N of STORE/.gen-N.tmp/NAME, or 0 */
void stasis_hash128(const void *p, uint64_t len, uint64_t out[2]);   /* XXH3-128 */

/* file_map.c: with --incremental, a private mapping of a file the job did
 * not change is mapped from the file again at restart (RGN_MAPFILE): sets
 * the flag and r->ident when the region qualifies. */
void filemap_choose(struct region *r, int have_pagemap);
/* Pagemap entry of a page of such a region: 1 when the process changed it
 * (an anonymous copy, present or swapped), which the image must hold. */
static inline int filemap_changed(uint64_t pm) { return ((pm >> 62) & 1) || (((pm >> 63) & 1) && !((pm >> 61) & 1)); }

/* plugin.c */
int plugins_dispatch(enum stasis_event ev);
int plugins_claim_memory(uint64_t start, uint64_t end);  /* 1: a plugin restores it */
int plugins_want_thread_events(void);            /* a user plugin wants THREAD_START/EXIT */
void plugins_thread_event(enum stasis_event ev); /* on the user thread; answers ignored */
extern __thread int stasis_in_thread_event;      /* inside plugins_thread_event() */

/* api.c: delayed sections. On SUSPEND: 0 once no section is open (new
 * ones wait), -1 after stasis_fail past STASIS_DELAY_TIMEOUT. */
int delay_hold_off(void);
void delay_release(void);   /* the checkpoint is over: sections may begin */

/* origin.c: the host whose pid namespace this process's pids come from */
#define STASIS_HOST_MAX 256
extern char stasis_origin[STASIS_HOST_MAX];
void origin_init(void);            /* from STASIS_ORIGIN when it names this host, else this host */
void origin_after_restart(void);   /* STASIS_ORIGIN for exec'd images (the allocator is safe) */

/* coord.c */
#define COORD_LINE_MAX 65536   /* docs/protocol.md: a line and its newline */
int coord_connect(int kind, const char *image);   /* kind: 0 new, 1 restored, 2 orphaned */
int coord_rejoin(void);   /* a running process joins the coordinator its store names */
/* This process, or its parent when it forked it, lost its coordinator: it
 * belongs to an earlier run of the job (HELLO kind 2). */
extern int stasis_orphaned;
int coord_read_line(char *buf, size_t cap);   /* 1, 0 at EOF, -1 error, -2 line too long */
int coord_send(const char *fmt, ...) __attribute__((format(printf, 1, 2)));   /* whole lines, from any thread */
/* STASIS_FAULT=NAME[@GEN][:SECONDS]: sleeps here (tests; image_write.c). */
void stasis_fault_point(const char *name);
void coord_close(void);
int coord_line_buffered(void);   /* a whole line is read already: no need to wait for the socket */
void coord_encode(char *out, size_t cap, const char *s);  /* percent-encoding of one argument */
void coord_decode(char *s);   /* in place */
extern int coord_fd;
extern volatile int coord_sending;   /* coord_send's lock: a forked child frees it */

/* Lines from the coordinator that a plugin handles (e.g. "PIDS" at restart). */
void stasis_on_coord_line(const char *verb, void (*fn)(const char *args));
int coord_dispatch_line(const char *line);   /* 1 when a plugin took it */

/* checkpoint.c */
/* The checkpoint thread's connection: 0 not yet, 1 connected, -1 gave up. */
extern volatile int stasis_coord_state;
int ckpt_wait_connected(int timeout_ms);
void ckpt_start_thread(void);
extern volatile int stasis_restored;   /* restart count as seen by this process */
extern struct restart_info stasis_restart_info;
/* lazy_wait.c: returns once a lazy restart's pager has filled all memory. */
void lazy_wait(void);
/* Until the pager is done or most_ms passed, whichever first (checked every 10 ms). */
void lazy_settle(int most_ms);
extern const char *stasis_save_path;   /* SAVE: the image being written (plugins may write beside it) */
extern const char *stasis_drain_far;   /* DRAIN: "ino,ino...", TCP connections whose peer is in the job on another host */

/* fork_save.c: the forked save (the writer, a copy of the process, writes
 * the image while the program runs on) */
const char *fork_save_refusal(void);   /* NULL, or why this process must save stopped */
int fork_save_start(const char *path); /* 0, or -1: no writer, save stopped */
int fork_save_fd(void);                /* the writer's report (readable when done), -1: none */
int fork_save_finish(struct image_stats *st);   /* reaps the writer: 0, or -1 after stasis_fail */
void fork_save_cancel(void);           /* kills and reaps a writer still running */
void fork_save_reported(void);         /* its result went to the coordinator */
void fork_save_wait(void);             /* before exit/exec: until the result is reported */
void fork_save_reset_after_fork(void);
extern pid_t stasis_image_pid;         /* the pid the image records (the writer's own differs) */

/* side_file.c: IMAGE.SUFFIX files for the restart loader, checksummed and
 * listed in the manifest. open returns an id (or -1 after stasis_fail);
 * write/close return 0 or -1 after stasis_fail. */
int stasis_side_open(const char *suffix);
int stasis_side_write(int id, const void *buf, size_t n);
int stasis_side_close(int id);
/* A file a plugin wrote itself at GENDIR/NAME, its contents' CRC-32C being
 * `crc`: truncated to `len`, given the same trailer at `len`, fsynced and
 * listed with this process in SAVED (as "/NAME"). 0, or -1 after stasis_fail. */
int stasis_side_seal(int fd, const char *name, uint64_t len, uint32_t crc);
void side_files_reset(void);
int side_files_describe(char *out, size_t cap);

/* children.c: " PID,PID..." of this process's live children (kernel pids) */
int children_describe(char *out, size_t cap);
void children_restored(void);   /* forget the children started outside the job */

/* raw helpers */
long stasis_syscall_futex(volatile int *addr, int op, int val, const struct timespec *ts);
uint64_t stasis_get_fs(void);
#endif
