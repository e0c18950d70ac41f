/* The image writer's memory work on every CPU: each window of memory (at
 * most 8 MiB) is scanned for its runs of non-zero pages, each run
 * compressed in pieces (kept raw where they shrink by less than an eighth)
 * and checksummed on a worker, into one of a ring of slots; the writer takes
 * the windows in order and writes their records while the workers go on
 * ahead. A worker waits when the ring is full, so the memory held stays
 * bounded (a slot: one window's compressed bytes). The process's memory
 * does not change meanwhile: every other thread is stopped, or this is
 * a forked copy; the writer's own stack and TLS are not given here. */
#include "core.h"
#include "crc32c.h"
#include <limits.h>
#include <linux/futex.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#define ZSTD_STATIC_LINKING_ONLY
#include <zstd.h>
#include <lz4.h>

#define WINDOW_MAX (8u << 20)
#define PIECE (1024u << 10)
/* Records of one window: a run per two pages at most, and a cut per piece. */
#define RUNS_MAX (WINDOW_MAX / IMG_PAGE / 2 + 1 + WINDOW_MAX / PIECE)
#define SLOTS_MAX (WORKERS_MAX + 2)

struct slot {
  atomic_int ready;        /* k + 1 once window k is in it */
  size_t nruns, used;
  struct pack_run *runs;   /* RUNS_MAX */
  char *buf;               /* compressed bytes, cap bytes */
};

struct packer {            /* one worker's compression state */
  ZSTD_CCtx *cctx;
  void *zws, *lz4_state;
  size_t zws_size;
  double t_compress, t_crc;
};

struct pack {
  const struct pack_window *windows;
  size_t n, cap;
  int compress, level, nslots;
  atomic_int next, released, abort, packers_taken;
  struct slot slots[SLOTS_MAX];
  struct packer packers[WORKERS_MAX];
  struct workers ws;
};

/* CPU time: with more threads than CPUs, wall time would count the waits. */
static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void futex_wait(atomic_int *word, int seen) {
  syscall(SYS_futex, (int *)word, FUTEX_WAIT_PRIVATE, seen, NULL, NULL, 0);
}

static void futex_wake(atomic_int *word) {
  syscall(SYS_futex, (int *)word, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0);
}

struct run_ctx { struct pack *p; struct packer *me; struct slot *s; int raw; };

static struct pack_run *add_run(struct slot *s, uint64_t addr, uint64_t len, uint64_t stored, const void *data, int flags) {
  struct pack_run *r = &s->runs[s->nruns++];
  *r = (struct pack_run){ addr, len, stored, data, 0, flags };
  return r;
}

/* One piece compressed into the slot; 0 when it would not shrink by an eighth. */
static size_t compress_piece(struct run_ctx *c, uint64_t addr, uint64_t len) {
  struct slot *s = c->s;
  char *out = s->buf + s->used;
  size_t room = c->p->cap - s->used;
  if (!room) return 0;
  if (c->me->cctx) {
    size_t n = ZSTD_compressCCtx(c->me->cctx, out, room, (const void *)addr, len, c->p->level);
    return !ZSTD_isError(n) && n <= len - len / 8 ? n : 0;
  }
  int n = LZ4_compress_fast_extState(c->me->lz4_state, (const char *)addr, out, (int)len, (int)room, c->p->level);
  return n > 0 && (size_t)n <= len - len / 8 ? (size_t)n : 0;
}

/* One run the scan found. Compressed, it is cut into PIECE-sized records:
 * a lazy restart decompresses the record holding a page the program
 * touches first, so the piece is what a first touch waits for. Pieces that
 * do not shrink stay in place, joined into raw records (mapped straight
 * from the image at restart). */
static void pack_run(uint64_t addr, uint64_t len, void *arg) {
  struct run_ctx *c = arg;
  struct slot *s = c->s;
  size_t first = s->nruns;
  double t0 = now();
  if (c->raw || (!c->me->cctx && !c->me->lz4_state)) {
    add_run(s, addr, len, len, (const void *)addr, RECF_ALIGNED);
  } else {
    uint64_t raw_from = addr, end = addr + len;
    for (uint64_t a = addr; a < end; a += PIECE) {
      uint64_t n = end - a < PIECE ? end - a : PIECE;
      size_t stored = compress_piece(c, a, n);
      if (!stored) continue;
      if (raw_from < a) add_run(s, raw_from, a - raw_from, a - raw_from, (const void *)raw_from, RECF_ALIGNED);
      add_run(s, a, n, stored, s->buf + s->used, c->me->cctx ? RECF_ZSTD : RECF_LZ4);
      s->used += stored;
      raw_from = a + n;
    }
    if (raw_from < end) add_run(s, raw_from, end - raw_from, end - raw_from, (const void *)raw_from, RECF_ALIGNED);
  }
  double t1 = now();
  for (size_t i = first; i < s->nruns; i++) s->runs[i].crc = crc32c(0, s->runs[i].data, s->runs[i].stored);
  c->me->t_compress += t1 - t0;
  c->me->t_crc += now() - t1;
}

static void pack_worker(void *arg) {
  struct pack *p = arg;
  struct packer *me = &p->packers[atomic_fetch_add(&p->packers_taken, 1)];
  for (;;) {
    int k = atomic_fetch_add(&p->next, 1), released;
    if ((size_t)k >= p->n) break;
    /* Window k goes where window k - nslots was: wait until it is written. */
    while (!atomic_load(&p->abort) && k >= (released = atomic_load(&p->released)) + p->nslots) futex_wait(&p->released, released);
    if (atomic_load(&p->abort)) break;
    struct slot *s = &p->slots[k % p->nslots];
    struct run_ctx c = { p, me, s, p->windows[k].raw };
    s->nruns = s->used = 0;
    image_scan_window(p->windows[k].start, p->windows[k].end, p->windows[k].scan, pack_run, &c);
    atomic_store(&s->ready, k + 1);
    futex_wake(&s->ready);
  }
}

static int packer_init(struct packer *pk, int compress, int level) {
  if (compress == RECF_ZSTD) {
    pk->zws_size = ZSTD_estimateCCtxSize(level);
    pk->zws = workers_map(pk->zws_size);
    pk->cctx = pk->zws ? ZSTD_initStaticCCtx(pk->zws, pk->zws_size) : NULL;
    return pk->cctx ? 0 : -1;
  }
  if (compress == RECF_LZ4) {
    pk->lz4_state = workers_map((size_t)LZ4_sizeofState());
    return pk->lz4_state ? 0 : -1;
  }
  return 0;
}

static void pack_free(struct pack *p) {
  for (int i = 0; i < p->nslots; i++) {
    if (p->slots[i].runs) munmap(p->slots[i].runs, RUNS_MAX * sizeof(struct pack_run));
    if (p->slots[i].buf) munmap(p->slots[i].buf, p->cap);
  }
  for (int i = 0; i < WORKERS_MAX; i++) {
    if (p->packers[i].zws) munmap(p->packers[i].zws, p->packers[i].zws_size);
    if (p->packers[i].lz4_state) munmap(p->packers[i].lz4_state, (size_t)LZ4_sizeofState());
  }
  munmap(p, sizeof *p);
}

/* NULL when no worker could be started: the writer then works alone. */
struct pack *pack_begin(const struct pack_window *windows, size_t n, int compress, int level) {
  struct pack *p = workers_map(sizeof *p);
  if (!p) return NULL;
  int workers = workers_cpus();
  if (workers > WORKERS_MAX) workers = WORKERS_MAX;
  if ((size_t)workers > n) workers = n ? (int)n : 1;
  p->windows = windows;
  p->n = n;
  p->compress = compress;
  p->level = level;
  p->nslots = workers + 2;
  p->cap = compress == RECF_ZSTD ? ZSTD_compressBound(WINDOW_MAX) : compress == RECF_LZ4 ? (size_t)LZ4_compressBound(WINDOW_MAX) : 0;
  for (int i = 0; i < p->nslots; i++) {
    p->slots[i].runs = workers_map(RUNS_MAX * sizeof(struct pack_run));
    if (p->cap) p->slots[i].buf = workers_map(p->cap);
    if (!p->slots[i].runs || (p->cap && !p->slots[i].buf)) goto fail;
  }
  for (int i = 0; i < workers; i++)
    if (packer_init(&p->packers[i], compress, level) < 0) goto fail;
  if (workers_start(&p->ws, workers, pack_worker, p) > 0) return p;
  workers_join(&p->ws);
fail:
  pack_free(p);
  return NULL;
}

size_t pack_take(struct pack *p, size_t k, const struct pack_run **runs) {
  struct slot *s = &p->slots[k % p->nslots];
  int ready;
  while ((ready = atomic_load(&s->ready)) != (int)k + 1) futex_wait(&s->ready, ready);
  *runs = s->runs;
  return s->nruns;
}

void pack_release(struct pack *p, size_t k) {
  (void)k;
  atomic_fetch_add(&p->released, 1);
  futex_wake(&p->released);
}

/* Stops the workers (those ahead of a writer that gave up, too). */
void pack_end(struct pack *p, double *t_compress, double *t_crc, int *threads) {
  atomic_store(&p->abort, 1);
  atomic_store(&p->released, INT_MAX / 2);
  futex_wake(&p->released);
  *threads = p->ws.started;
  workers_join(&p->ws);
  for (int i = 0; i < WORKERS_MAX; i++) {
    *t_compress += p->packers[i].t_compress;
    *t_crc += p->packers[i].t_crc;
  }
  pack_free(p);
}
