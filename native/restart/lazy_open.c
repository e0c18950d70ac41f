/* Lazy restart: records a fault opened (the pager's fault thread, lazy.c).
 * Only the pages around the fault are copied in, which wakes the faulting
 * thread; the record's contents are kept until the rest is copied. A
 * program touching a page here and there so waits for one decompression
 * and 64 KiB, not for 8 MiB to be copied each time. The rest (once touched
 * again, or when no fault waits) is handed to the background threads:
 * copied on the fault thread (~3 ms a record), it held up every fault
 * behind it. */
#include "lazy_pager.h"
#include <stdatomic.h>
#include <sys/mman.h>
#include <time.h>

#define FAULT_WINDOW (64 * 1024ull)
#define OPEN_MAX 8
/* A zstd record is decompressed block by block (at most 128 KiB each) into
 * buf, only as far as the pages asked for so far: `made` bytes of it, from
 * the first `used` of its payload. Others are whole at once (made = all).
 * A slot is FREE, OPEN (the fault thread's), HANDED (to be finished by a
 * background thread; the fault thread may take it back) or FINISHING (a
 * background thread's; the fault thread reads buf below `made` only). */
enum { SLOT_FREE, SLOT_OPEN, SLOT_HANDED, SLOT_FINISHING };
struct open_rec { struct lazy_rec *r; char *buf; const char *src; ZSTD_DCtx *dctx; _Atomic uint64_t made; uint64_t used; atomic_int slot; };
static struct open_rec open_recs[OPEN_MAX];
static int nslots;
static size_t slot_len;

static void open_contents(struct open_rec *o, const struct pages *p) {
  o->made = o->used = 0;
  if ((p->rec->flags & RECF_COMP_MASK) != RECF_ZSTD) {
    o->src = pager_contents(p, o->buf, pager_fault_dctx);
    o->made = p->rec->raw_len;
    o->used = p->rec->stored_len;
    return;
  }
  pager_check_payload(p);
  if (ZSTD_isError(ZSTD_decompressBegin(o->dctx))) pager_give_up("cannot decompress pages");
  o->src = o->buf;
}

/* The record's first `upto` bytes decompressed (all of it: to the frame's end, its checksum checked). */
static void make_upto(struct open_rec *o, uint64_t upto) {
  const struct pages *p = o->r->p;
  uint64_t len = p->rec->raw_len, made = o->made;
  while (made < upto || (upto == len && o->used < p->rec->stored_len)) {
    size_t n = ZSTD_nextSrcSizeToDecompress(o->dctx);
    if (n == 0 || n > p->rec->stored_len - o->used) pager_give_up("cannot decompress pages");
    size_t got = ZSTD_decompressContinue(o->dctx, o->buf + made, len - made, p->payload + o->used, n);
    if (ZSTD_isError(got)) pager_give_up("cannot decompress pages");
    o->used += n;
    made += got;
    o->made = made;   /* after the bytes: the fault thread may copy them */
  }
  if (made > len || (upto == len && made != len)) pager_give_up("cannot decompress pages");
}

static void copy_window(struct open_rec *o, uint64_t at) {
  const struct pages *p = o->r->p;
  uint64_t len = p->rec->raw_len, lo = at & ~(FAULT_WINDOW - 1), hi = lo + FAULT_WINDOW < len ? lo + FAULT_WINDOW : len;
  make_upto(o, hi);
  pager_copy_part(p, o->src, lo, hi);
}

static void finish_open(struct open_rec *o) {
  make_upto(o, o->r->p->rec->raw_len);
  pager_copy_part(o->r->p, o->src, 0, o->r->p->rec->raw_len);   /* pages there already are passed over */
  pager_mark_done(o->r);
  atomic_store(&o->slot, SLOT_FREE);
}

/* The background's: a handed record, finished; 0 when none waits. */
int pager_finish_handed(void) {
  for (int i = 0; i < nslots; i++) {
    int expect = SLOT_HANDED;
    if (atomic_compare_exchange_strong(&open_recs[i].slot, &expect, SLOT_FINISHING)) {
      finish_open(&open_recs[i]);
      return 1;
    }
  }
  return 0;
}

/* The fault thread's, when no fault waits: open records go to the
 * background threads, or are finished here (one at a time: a fault may
 * come) when none runs any more. */
void pager_hand_over_open(void) {
  int bg = atomic_load(&pager_background_running) > 0;
  for (int i = 0; i < nslots; i++) {
    struct open_rec *o = &open_recs[i];
    int s = atomic_load(&o->slot);
    if (s == SLOT_OPEN && bg) atomic_store(&o->slot, SLOT_HANDED);
    else if (s == SLOT_OPEN || (s == SLOT_HANDED && !bg && atomic_compare_exchange_strong(&o->slot, &s, SLOT_OPEN))) {
      finish_open(o);
      return;
    }
  }
}

/* Whether pager_hand_over_open has work for the fault thread itself. */
int pager_own_work(void) {
  int bg = atomic_load(&pager_background_running) > 0;
  for (int i = 0; i < nslots; i++) {
    int s = atomic_load(&open_recs[i].slot);
    if (s == SLOT_OPEN || (s == SLOT_HANDED && !bg)) return 1;
  }
  return 0;
}

/* A free slot for a new record. None free: one of the fault thread's own,
 * or a handed one no background thread took yet, is finished here; all
 * being finished: the first that is done. */
static struct open_rec *open_slot(void) {
  for (;;) {
    for (int i = 0; i < nslots; i++)
      if (atomic_load(&open_recs[i].slot) == SLOT_FREE) return &open_recs[i];
    for (int i = 0; i < nslots; i++) {
      int s = SLOT_HANDED;
      if (atomic_load(&open_recs[i].slot) == SLOT_OPEN || atomic_compare_exchange_strong(&open_recs[i].slot, &s, SLOT_OPEN)) {
        finish_open(&open_recs[i]);
        return &open_recs[i];
      }
    }
    pager_drain();   /* all being finished: one is free in a moment */
    struct timespec ts = { 0, 50000 };
    nanosleep(&ts, NULL);
  }
}

/* A fault in a record a background thread finishes: its page as soon as
 * it is decompressed, not the whole record. 0 when the record was done
 * first (then as any record done). */
static int from_finishing(struct open_rec *o, uint64_t orig, uint64_t page) {
  uint64_t off = orig - o->r->p->addr;
  while (atomic_load(&o->made) < off + PAGE && atomic_load(&o->slot) == SLOT_FINISHING) {
    pager_drain();
    struct timespec ts = { 0, 20000 };
    nanosleep(&ts, NULL);
  }
  if (atomic_load(&o->slot) != SLOT_FINISHING) return 0;
  pager_put_page(orig, page, o->src + off);
  return 1;
}

static char *bufs;

/* A background thread's, at its start: the slots' buffers made present
 * before faults decompress into them (pages there already are left as
 * they are). Decompressing into fresh pages, a fault each, took 0.6 ms
 * per MiB, into present ones 0.05: a fault far into a record waited
 * 3-7 ms for that alone. */
void pager_open_warm(void) {
#ifdef MADV_POPULATE_WRITE
  madvise(bufs, slot_len * (size_t)nslots, MADV_POPULATE_WRITE);
#endif
}

/* The slots' buffers and decoders (the pager's, at its start): as many as
 * there are lazy records, up to OPEN_MAX, each as long as the longest. */
void pager_open_init(int records, size_t longest) {
  nslots = records < OPEN_MAX ? records : OPEN_MAX;
  slot_len = (longest + PAGE - 1) & ~(PAGE - 1);
  bufs = pager_buffer(slot_len * (size_t)nslots);
  for (int i = 0; i < nslots; i++) {
    open_recs[i].buf = bufs + i * slot_len;
    if (!(open_recs[i].dctx = ZSTD_createDCtx())) pager_give_up("out of memory");
  }
}

/* A fault in record r: served from an open record, or by opening r; 0
 * when r is another thread's (then the fault waits for it). */
int pager_serve_open(struct lazy_rec *r, uint64_t orig, uint64_t page) {
  for (int i = 0; i < nslots; i++) {
    struct open_rec *o = &open_recs[i];
    int s = atomic_load(&o->slot);
    if (s == SLOT_FREE || o->r != r) continue;
    if (s == SLOT_HANDED) s = atomic_compare_exchange_strong(&o->slot, &s, SLOT_OPEN) ? SLOT_OPEN : atomic_load(&o->slot);
    if (s == SLOT_FINISHING && from_finishing(o, orig, page)) return 1;
    if (s != SLOT_OPEN) break;   /* finished meanwhile */
    copy_window(o, orig - r->p->addr);   /* touched again: the pages around, then all (in the background) */
    atomic_store(&o->slot, atomic_load(&pager_background_running) ? SLOT_HANDED : SLOT_OPEN);
    return 1;
  }
  int expect = PENDING;
  if (atomic_compare_exchange_strong(&r->state, &expect, BUSY)) {
    struct open_rec *o = open_slot();
    o->r = r;
    open_contents(o, r->p);
    atomic_store(&o->slot, SLOT_OPEN);
    copy_window(o, orig - r->p->addr);
    return 1;
  }
  return 0;
}
