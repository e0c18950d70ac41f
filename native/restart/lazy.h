/* Lazy restart (lazy.c): compressed pages are filled on first touch by a
 * pager process through userfaultfd, and in the background until all are. */
#ifndef STASIS_LOADER_LAZY_H
#define STASIS_LOADER_LAZY_H
#include "image.h"
#include <sys/types.h>

/* A userfaultfd of this process for every fault (kernel and user mode), or
 * -1 with *why set to one line saying why not. */
int lazy_open(const char **why);
/* Before the pages are touched: a range that the pager fills (0, or -1),
 * then each record of it. */
int lazy_register(int uffd, uint64_t addr, uint64_t len);
void lazy_add(const struct pages *p);
int lazy_count(void);
/* No pager after all: unregisters record i and returns it, to fill here. */
const struct pages *lazy_abandon(int uffd, int i);
/* Forks the pager (outside this process's children) for `target`; returns
 * its pid, or -1 (then the caller fills eagerly: lazy_abandon). */
/* Tests: the background fill starts this late (STASIS_PAGER_DELAY_MS),
 * so that a test can act while pages are still lazy. */
void lazy_delay_background(unsigned ms);
/* STASIS_DEBUG: the pager says what it served when it is done. */
void lazy_set_debug(int on);
pid_t lazy_start(int uffd, const struct image *img, pid_t target);
#endif
