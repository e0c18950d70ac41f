/* Lazy restart: the pager. The loader registers the ranges of compressed
 * pages with a userfaultfd instead of filling them, and forks this pager
 * (twice, so that it is nobody's child in the job: never in a checkpoint,
 * never seen by the program's wait()). The pager
 *  - serves every fault at once: decompresses the record holding the page
 *    and copies it in (UFFDIO_COPY wakes the threads that wait on it);
 *  - fills every other record in the background (niced threads), then
 *    exits: from then on the process depends on nothing of the image;
 *  - keeps the image's descriptor and mapping, so unlinking the file
 *    (pruning) while pages are still lazy is harmless;
 *  - follows madvise(DONTNEED) (the pages stay zero, never the saved data)
 *    and mremap (saved data goes where the pages moved) through userfaultfd
 *    events;
 *  - exits when the process does (pidfd), and kills the process if it
 *    cannot go on (a fault of its own), rather than let it read zeros.
 * The restored core waits for the pager to exit before a checkpoint and
 * before fork() (core/lazy_wait.c): a child would not inherit the ranges. */
#include "lazy.h"
#include "lazy_pager.h"
#include "parallel.h"
#include "crc32c.h"
#include <errno.h>
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <malloc.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <lz4.h>

static struct lazy_rec *recs;
static int nrecs, caprecs;
static atomic_int ndone;

/* What the process did to lazy ranges since restart, in order: pages that
 * madvise removed (zero from then on) and ranges mremap moved. */
enum { REMOVED, MOVED };
struct span { uint64_t from, to, len; int kind; };
static struct span *spans;
int pager_nspans;
static int capspans;
pthread_rwlock_t pager_spans_lock;

static int uffd = -1, pagemap = -1;
static pid_t target;
static const struct image *image;

int lazy_open(const char **why) {
  int fd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
  if (fd < 0 && errno == EPERM) {
    /* vm.unprivileged_userfaultfd=0: /dev/userfaultfd gives the same to whoever may open it. */
    int dev = open("/dev/userfaultfd", O_RDWR | O_CLOEXEC);
    if (dev >= 0) {
      fd = ioctl(dev, USERFAULTFD_IOC_NEW, O_CLOEXEC | O_NONBLOCK);
      close(dev);
    }
    if (fd < 0) {
      /* UFFD_USER_MODE_ONLY would be allowed, but then a system call reading
       * into a lazy page (read(2) into a buffer) fails with EFAULT. */
      *why = "userfaultfd is not allowed for kernel faults here (vm.unprivileged_userfaultfd=0, /dev/userfaultfd not accessible)";
      return -1;
    }
  } else if (fd < 0) {
    *why = errno == ENOSYS ? "this kernel has no userfaultfd" : "userfaultfd failed";
    return -1;
  }
  struct uffdio_api api = { .api = UFFD_API, .features = UFFD_FEATURE_EVENT_REMOVE | UFFD_FEATURE_EVENT_REMAP };
  if (ioctl(fd, UFFDIO_API, &api) < 0) {
    close(fd);
    *why = "userfaultfd lacks the remove and remap events";
    return -1;
  }
  return fd;
}

int lazy_register(int fd, uint64_t addr, uint64_t len) {
  struct uffdio_register reg = { .range = { addr, len }, .mode = UFFDIO_REGISTER_MODE_MISSING };
  return ioctl(fd, UFFDIO_REGISTER, &reg);
}

void lazy_add(const struct pages *p) {
  if (nrecs == caprecs) {
    caprecs = caprecs ? caprecs * 2 : 1024;
    recs = realloc(recs, caprecs * sizeof *recs);
  }
  recs[nrecs].p = p;
  atomic_init(&recs[nrecs].state, PENDING);
  nrecs++;
}

int lazy_count(void) { return nrecs; }

const struct pages *lazy_abandon(int fd, int i) {
  struct uffdio_range range = { recs[i].p->addr, recs[i].p->rec->raw_len };
  ioctl(fd, UFFDIO_UNREGISTER, &range);
  return recs[i].p;
}

_Noreturn void pager_give_up(const char *what) {
  char msg[256];
  int n = snprintf(msg, sizeof msg, "stasis-pager: %s: %s; killing the restored process %d (its memory cannot be completed)\n",
                   image->name, what, (int)target);
  if (write(2, msg, n) < 0) {}
  kill(target, SIGKILL);
  _exit(1);
}

static void on_crash(int sig) {
  (void)sig;
  pager_give_up("the pager crashed (the image file unreadable?)");
}

/* Where an original page is now; 0 when madvise removed it since. */
uint64_t pager_forward(uint64_t a) {
  for (int i = 0; i < pager_nspans; i++) {
    const struct span *s = &spans[i];
    if (a < s->from || a >= s->from + s->len) continue;
    if (s->kind == REMOVED) return 0;
    a = s->to + (a - s->from);
  }
  return a;
}

/* The original address of a page faulted at `a`; 0 when it was removed. */
static uint64_t backward(uint64_t a) {
  for (int i = pager_nspans - 1; i >= 0; i--) {
    const struct span *s = &spans[i];
    if (s->kind == REMOVED) {
      if (a >= s->from && a < s->from + s->len) return 0;
    } else if (a >= s->to && a < s->to + s->len) {
      a = s->from + (a - s->to);
    }
  }
  return a;
}

static struct lazy_rec *find(uint64_t a) {
  int lo = 0, hi = nrecs - 1;
  while (lo <= hi) {
    int mid = (lo + hi) / 2;
    const struct pages *p = recs[mid].p;
    if (a < p->addr) hi = mid - 1;
    else if (a >= p->addr + p->rec->raw_len) lo = mid + 1;
    else return &recs[mid];
  }
  return NULL;
}

/* Copies len bytes to dst, page by page past pages that are there already
 * or no longer mapped; returns how many bytes it went through, short when
 * the kernel says the process's mappings are changing (EAGAIN: a madvise or
 * mremap event waits to be read). */
uint64_t pager_copy(uint64_t dst, const char *src, uint64_t len) {
  uint64_t went = 0;
  while (went < len) {
    struct uffdio_copy c = { .dst = dst + went, .src = (uint64_t)(src + went), .len = len - went };
    if (ioctl(uffd, UFFDIO_COPY, &c) == 0) return len;
    int64_t done = c.copy > 0 ? c.copy : 0;
    int err = c.copy < 0 ? (int)-c.copy : errno;
    if (!done) {
      if (err == EAGAIN) return went;
      if (err == ESRCH) _exit(0);   /* the process is gone */
      if (err != EEXIST && err != ENOENT && err != EINVAL) pager_give_up(strerror(err));
      done = PAGE;
    }
    went += done;
  }
  return went;
}

static pthread_t fault_thread;

/* Lets the madvise or mremap in progress finish: the fault thread reads its
 * event, other threads step aside for it. Called without the lock. */
static void changing(void) {
  if (pthread_equal(pthread_self(), fault_thread)) { pager_drain(); return; }
  struct timespec ts = { 0, 100000 };
  nanosleep(&ts, NULL);
}

void pager_check_payload(const struct pages *p) {
  if (crc32c(0, p->payload, p->rec->stored_len) != p->rec->payload_crc) pager_give_up("payload checksum mismatch (the image changed or is damaged)");
}

const char *pager_contents(const struct pages *p, char *buf, ZSTD_DCtx *dctx) {
  const struct rec_header *h = p->rec;
  pager_check_payload(p);
  int ok = 1;
  switch (h->flags & RECF_COMP_MASK) {
  case 0:
    return p->payload;
  case RECF_LZ4:
    ok = LZ4_decompress_safe(p->payload, buf, (int)h->stored_len, (int)h->raw_len) == (int)h->raw_len;
    break;
  default: {
    size_t n = ZSTD_decompressDCtx(dctx, buf, h->raw_len, p->payload, h->stored_len);
    ok = !ZSTD_isError(n) && n == h->raw_len;
  }
  }
  if (!ok) pager_give_up("cannot decompress pages");
  return buf;
}

/* Copies the record's saved pages [from, to) to wherever they are now. The
 * read lock keeps madvise/mremap events (taken under the write lock) from
 * passing a copy in flight: a removed page is never filled after its removal. */
static void copy_part_locked(const struct pages *p, const char *src, uint64_t from, uint64_t to) {
  pthread_rwlock_rdlock(&pager_spans_lock);
  uint64_t run_dst = 0, run_off = 0, run_len = 0;
  for (uint64_t off = from; off <= to; off += PAGE) {
    uint64_t dst = off < to ? (pager_nspans ? pager_forward(p->addr + off) : p->addr + off) : 0;
    if (run_len && dst == run_dst + run_len) { run_len += PAGE; continue; }
    if (run_len) {
      uint64_t went = pager_copy(run_dst, src + run_off, run_len);
      if (went < run_len) {   /* again from there, where the pages are then */
        pthread_rwlock_unlock(&pager_spans_lock);
        changing();
        pthread_rwlock_rdlock(&pager_spans_lock);
        off = run_off + went - PAGE;
        run_len = 0;
        continue;
      }
    }
    run_dst = dst, run_off = off, run_len = dst ? PAGE : 0;
  }
  pthread_rwlock_unlock(&pager_spans_lock);
}

/* In pieces of 64 KiB, the lock taken for each: the fault thread reads the
 * userfaultfd under the write lock, and so waited for whole records that the
 * niced background threads were copying (faults served in 5-20 ms, not 0.5). */
#define COPY_PIECE (64 * 1024ull)
void pager_copy_part(const struct pages *p, const char *src, uint64_t from, uint64_t to) {
  for (uint64_t at = from; at < to; at += COPY_PIECE) copy_part_locked(p, src, at, to - at < COPY_PIECE ? to : at + COPY_PIECE);
}

void pager_mark_done(struct lazy_rec *r) {
  atomic_store(&r->state, DONE);
  atomic_fetch_add(&ndone, 1);
}

static void fill_record(struct lazy_rec *r, char *buf, ZSTD_DCtx *dctx) {
  pager_copy_part(r->p, pager_contents(r->p, buf, dctx), 0, r->p->rec->raw_len);
  pager_mark_done(r);
}

static int present(uint64_t a) {
  uint64_t e = 0;
  if (pread(pagemap, &e, 8, (off_t)(a / PAGE * 8)) != 8) return 0;
  return (e >> 63) & 1;
}

void pager_wake(uint64_t a) {
  struct uffdio_range r = { a, PAGE };
  ioctl(uffd, UFFDIO_WAKE, &r);
}

/* The fault thread's: a page that reads as zero (discarded, or grown). */
void pager_zero(uint64_t a) {
  for (;;) {
    struct uffdio_zeropage z = { .range = { a, PAGE } };
    if (ioctl(uffd, UFFDIO_ZEROPAGE, &z) == 0) return;
    if (errno != EAGAIN) break;
    pager_drain();   /* a madvise or mremap is under way: its event first */
  }
  if (errno == EEXIST) pager_wake(a);
  else if (errno != ENOENT && errno != ESRCH) pager_give_up("cannot zero a page");
}

/* Memory to decompress into. */
char *pager_buffer(size_t len) {
  char *m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (m == MAP_FAILED) pager_give_up("out of memory");
  return m;
}

/* The fault thread's: the saved page `src` of `orig`, faulted at `page`,
 * put where it is now (zero if it was removed since); wakes the fault. */
void pager_put_page(uint64_t orig, uint64_t page, const char *src) {
  for (;;) {
    pthread_rwlock_rdlock(&pager_spans_lock);
    uint64_t dst = pager_nspans ? pager_forward(orig) : orig;
    uint64_t went = dst ? pager_copy(dst, src, PAGE) : PAGE;
    pthread_rwlock_unlock(&pager_spans_lock);
    if (!dst) pager_zero(page);
    if (went == PAGE) { pager_wake(page); return; }
    pager_drain();
  }
}

ZSTD_DCtx *pager_fault_dctx;
static char *fault_buf;

/* For STASIS_DEBUG: faults served, and how long they waited in all. */
static int lazy_debug;
static unsigned long served;
static double served_s, pager_t0;
static double mono(void) {   /* a raw syscall: the loader moved the vdso under libc */
  struct timespec ts;
  syscall(SYS_clock_gettime, CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}
void lazy_set_debug(int on) { lazy_debug = on; }
static void say_served(const char *when) {
  if (!lazy_debug) return;
  char msg[300];
  int n = snprintf(msg, sizeof msg, "stasis-pager: %s: %s: %d of %d records in after %.3f s; %lu faults served in %.3f s\n", image->name, when,
                   atomic_load(&ndone), nrecs, mono() - pager_t0, served, served_s);
  if (write(2, msg, n) < 0) {}
}

static void serve(uint64_t at) {
  uint64_t page = at & ~(PAGE - 1);
  pthread_rwlock_rdlock(&pager_spans_lock);
  uint64_t orig = pager_nspans ? backward(page) : page;
  pthread_rwlock_unlock(&pager_spans_lock);
  struct lazy_rec *r = orig ? find(orig) : NULL;
  if (!r) { pager_zero(page); return; }   /* removed since, or grown by mremap */
  if (pager_serve_open(r, orig, page)) return;
  /* Another thread fills it; its copy wakes this fault unless it raced.
   * (Decompressing it here too, not to wait for a niced thread, made a
   * pass over lazy memory 1.3x slower on 2 CPUs: each record twice.) */
  while (atomic_load(&r->state) != DONE) {
    pager_drain();   /* that thread may wait for an event only this one reads */
    struct timespec ts = { 0, 100000 };
    nanosleep(&ts, NULL);
  }
  if (present(page)) { pager_wake(page); return; }
  pager_put_page(orig, page, pager_contents(r->p, fault_buf, pager_fault_dctx) + (orig - r->p->addr));
}

/* Faults read and not served yet (by the fault thread only). */
static uint64_t *faults;
static size_t nfaults, capfaults;

static void add_span(uint64_t from, uint64_t to, uint64_t len, int kind) {
  if (pager_nspans == capspans) {
    capspans = capspans ? capspans * 2 : 64;
    spans = realloc(spans, capspans * sizeof *spans);
    if (!spans) pager_give_up("out of memory");
  }
  spans[pager_nspans++] = (struct span){ from, to, len, kind };
}

atomic_int pager_background_running;
static atomic_int next_background;
static ZSTD_DCtx **dctxs;
static unsigned background_delay_ms;

void lazy_delay_background(unsigned ms) { background_delay_ms = ms; }

static void *background(void *arg) {
  int t = (int)(long)arg;
  /* SCHED_IDLE, not nice 10: a waking fault thread (or the program) takes
   * the CPU from it at once, where a niced thread may finish its slice. It
   * still gets CPU beside spinning programs (with 2 busy loops per CPU a
   * 512 MiB restore's first pass took 2.3 s, 1.2 s on idle CPUs). */
  struct sched_param idle = { 0 };
  sched_setscheduler(0, SCHED_IDLE, &idle);
  char *buf = pager_buffer(RUN_MAX);
  if (t == 0) pager_open_warm();
  if (background_delay_ms) {
    struct timespec ts = { background_delay_ms / 1000, background_delay_ms % 1000 * 1000000L };
    nanosleep(&ts, NULL);
  }
  for (;;) {
    if (pager_finish_handed()) continue;   /* touched records first */
    int i = atomic_fetch_add(&next_background, 1);
    if (i >= nrecs) break;
    int expect = PENDING;
    if (atomic_compare_exchange_strong(&recs[i].state, &expect, BUSY)) fill_record(&recs[i], buf, dctxs[t]);
  }
  atomic_fetch_sub(&pager_background_running, 1);   /* what is handed from now on, the fault thread finishes */
  return NULL;
}

/* Only the userfaultfd, the image and stderr: a pipe end or socket held
 * here would keep a reader of the job from seeing its end. */
static void close_others(int keep1, int keep2) {
  int keep[4] = { 2, keep1, keep2, 1 << 30 };
  for (int i = 0; i < 4; i++)
    for (int j = i + 1; j < 4; j++)
      if (keep[j] < keep[i]) { int t = keep[i]; keep[i] = keep[j]; keep[j] = t; }
  int from = 0;
  for (int i = 0; i < 4; i++) {
    if (keep[i] > from) syscall(SYS_close_range, from, keep[i] - 1, 0);
    from = keep[i] + 1;
  }
  int null = open("/dev/null", O_RDWR);
  if (null >= 0) { dup2(null, 0); dup2(null, 1); if (null > 1) close(null); }
}

/* Reads what the kernel has: events change the spans (under the write lock,
 * so no copy is in flight meanwhile), faults are queued. */
void pager_drain(void) {
  struct uffd_msg msgs[16];
  pthread_rwlock_wrlock(&pager_spans_lock);
  ssize_t n = read(uffd, msgs, sizeof msgs);
  for (ssize_t i = 0; i < n / (ssize_t)sizeof *msgs; i++) {
    struct uffd_msg *m = &msgs[i];
    if (m->event == UFFD_EVENT_REMOVE) {
      add_span(m->arg.remove.start, 0, m->arg.remove.end - m->arg.remove.start, REMOVED);
    } else if (m->event == UFFD_EVENT_REMAP) {
      add_span(m->arg.remap.from, m->arg.remap.to, m->arg.remap.len, MOVED);
    } else if (m->event == UFFD_EVENT_PAGEFAULT) {
      if (nfaults == capfaults) {
        capfaults = capfaults ? capfaults * 2 : 256;
        faults = realloc(faults, capfaults * sizeof *faults);
        if (!faults) pager_give_up("out of memory");
      }
      faults[nfaults++] = m->arg.pagefault.address;
    }
  }
  pthread_rwlock_unlock(&pager_spans_lock);
}

static __attribute__((noreturn)) void pager(void) {
  fault_thread = pthread_self();
  pager_t0 = mono();
  setsid();
  prctl(PR_SET_NAME, "stasis-pager");
  close_others(uffd, image->fd);
  mallopt(M_MMAP_MAX, 65536);   /* the loader kept to its brk heap; the pager may map anywhere */
  struct sigaction ign = { .sa_handler = SIG_IGN }, crash = { .sa_handler = on_crash };
  for (int s = 1; s < NSIG; s++) sigaction(s, &ign, NULL);
  int fatal[] = { SIGBUS, SIGSEGV, SIGILL, SIGFPE, SIGABRT };
  sigset_t unblock;
  sigemptyset(&unblock);
  for (unsigned i = 0; i < sizeof fatal / sizeof *fatal; i++) { sigaction(fatal[i], &crash, NULL); sigaddset(&unblock, fatal[i]); }
  sigprocmask(SIG_UNBLOCK, &unblock, NULL);
  char path[64];
  snprintf(path, sizeof path, "/proc/%d/pagemap", (int)target);
  pagemap = open(path, O_RDONLY | O_CLOEXEC);
  int pidfd = (int)syscall(SYS_pidfd_open, target, 0);
  if (pidfd < 0) _exit(0);   /* already gone */
  pthread_rwlockattr_t attr;
  pthread_rwlockattr_init(&attr);
  pthread_rwlockattr_setkind_np(&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
  pthread_rwlock_init(&pager_spans_lock, &attr);
  fault_buf = pager_buffer(RUN_MAX);
  pager_fault_dctx = ZSTD_createDCtx();
  if (!pager_fault_dctx) pager_give_up("out of memory");
  size_t longest = 0;
  for (int i = 0; i < nrecs; i++) if (recs[i].p->rec->raw_len > longest) longest = recs[i].p->rec->raw_len;
  pager_open_init(nrecs, longest);
  int nbg = parallel_threads();
  pthread_t tids[PARALLEL_MAX];
  atomic_store(&pager_background_running, nbg);
  for (int t = 0; t < nbg; t++)
    if (pthread_create(&tids[t], NULL, background, (void *)(long)t) != 0) {
      atomic_fetch_sub(&pager_background_running, nbg - t);
      nbg = t;
    }
  if (nbg == 0) pager_give_up("cannot start a thread");
  struct pollfd fds[2] = { { .fd = uffd, .events = POLLIN }, { .fd = pidfd, .events = POLLIN } };
  while (atomic_load(&ndone) < nrecs || nfaults) {
    if (!nfaults) {
      if (poll(fds, 2, pager_own_work() ? 0 : 20) < 0 && errno != EINTR) pager_give_up("poll failed");
      if (fds[1].revents) { say_served("the process ended"); _exit(0); }
      if (!(fds[0].revents & POLLIN)) {
        pager_hand_over_open();   /* no fault waits */
        continue;
      }
      pager_drain();
      if (!nfaults) continue;   /* events only */
    }
    /* Oldest first; serving may read more. */
    uint64_t at = faults[0];
    memmove(faults, faults + 1, --nfaults * sizeof *faults);
    double t = lazy_debug ? mono() : 0;
    serve(at);
    if (lazy_debug) served++, served_s += mono() - t;
    if (lazy_debug > 1) {
      struct lazy_rec *r = find(at & ~(PAGE - 1));
      char msg[200];
      int n = snprintf(msg, sizeof msg, "stasis-pager: fault %#lx at %.3f s: record %#lx+%lu, %.1f ms\n", (unsigned long)at, mono() - pager_t0,
                       r ? (unsigned long)r->p->addr : 0ul, r ? (unsigned long)r->p->rec->raw_len : 0ul, (mono() - t) * 1e3);
      if (write(2, msg, n) < 0) {}
    }
  }
  say_served("all");
  /* Everything is in: closing the userfaultfd unregisters the ranges (pages
   * removed since read as zero, as they would have). */
  _exit(0);
}

pid_t lazy_start(int fd, const struct image *img, pid_t pid) {
  extern ZSTD_DCtx *loader_dctx(int thread);
  static ZSTD_DCtx *own[PARALLEL_MAX];
  for (int t = 0; t < parallel_threads(); t++) own[t] = loader_dctx(t);
  dctxs = own;
  uffd = fd, image = img, target = pid;
  int p[2];
  if (pipe2(p, O_CLOEXEC) < 0) return -1;
  sigset_t pending, chld;
  sigpending(&pending);
  sigemptyset(&chld);
  sigaddset(&chld, SIGCHLD);
  pid_t mid = fork();
  if (mid < 0) { close(p[0]); close(p[1]); return -1; }
  if (mid == 0) {
    close(p[0]);
    pid_t pg = fork();
    if (pg == 0) { close(p[1]); pager(); }
    if (write(p[1], &pg, sizeof pg) < 0) _exit(1);
    _exit(0);
  }
  close(p[1]);
  pid_t pg = -1;
  if (read(p[0], &pg, sizeof pg) != sizeof pg) pg = -1;
  close(p[0]);
  waitpid(mid, NULL, 0);
  /* The middle child's SIGCHLD (blocked here) is not the program's to see. */
  if (!sigismember(&pending, SIGCHLD)) {
    struct timespec pager_zero = { 0, 0 };
    sigtimedwait(&chld, NULL, &pager_zero);
  }
  return pg;
}
