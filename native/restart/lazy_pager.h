/* Inside the pager process (lazy.c, lazy_open.c): what its fault thread
 * and background threads share. Not for the loader. */
#ifndef STASIS_LOADER_LAZY_PAGER_H
#define STASIS_LOADER_LAZY_PAGER_H
#include "image.h"
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#define ZSTD_STATIC_LINKING_ONLY   /* block-wise decoding (lazy_open.c) */
#include <zstd.h>

#define PAGE 4096ull
#define RUN_MAX (8u << 20)

enum { PENDING, BUSY, DONE };
struct lazy_rec { const struct pages *p; atomic_int state; };

/* madvise and mremap since restart, under this lock (written by events). */
extern pthread_rwlock_t pager_spans_lock;
extern int pager_nspans;
/* Where an original page is now; 0 when madvise removed it since. */
uint64_t pager_forward(uint64_t a);

_Noreturn void pager_give_up(const char *what);
/* The fault thread reads events and faults; other threads step aside for it. */
void pager_drain(void);
uint64_t pager_copy(uint64_t dst, const char *src, uint64_t len);
void pager_wake(uint64_t a);
void pager_zero(uint64_t a);
void pager_check_payload(const struct pages *p);
const char *pager_contents(const struct pages *p, char *buf, ZSTD_DCtx *dctx);
void pager_copy_part(const struct pages *p, const char *src, uint64_t from, uint64_t to);
void pager_put_page(uint64_t orig, uint64_t page, const char *src);
void pager_mark_done(struct lazy_rec *r);
extern ZSTD_DCtx *pager_fault_dctx;
/* Background threads still running: a record handed to them gets finished. */
extern atomic_int pager_background_running;

char *pager_buffer(size_t len);

/* lazy_open.c */
void pager_open_warm(void);
void pager_open_init(int records, size_t longest);
int pager_serve_open(struct lazy_rec *r, uint64_t orig, uint64_t page);
int pager_finish_handed(void);
void pager_hand_over_open(void);
int pager_own_work(void);
#endif
