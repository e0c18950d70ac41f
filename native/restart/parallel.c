/* Helper threads for the loader. Their stacks and thread blocks are in the
 * loader's own static memory: glibc would put default thread stacks
 * wherever mmap finds room, which without randomization is where the
 * program's libraries were and are about to be mapped again. Helpers may so
 * run after the point of no return; they exit before parallel_run returns. */
#include "parallel.h"
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>

#define HELPER_STACK (128 * 1024)
static char stacks[PARALLEL_MAX - 1][HELPER_STACK] __attribute__((aligned(4096)));
static int nthreads;

struct batch {
  void (*job)(int item, int thread, void *arg);
  void *arg;
  int n;
  atomic_int next;
};
struct helper { struct batch *batch; int thread; };

static void work(struct batch *b, int thread) {
  for (int i; (i = atomic_fetch_add(&b->next, 1)) < b->n;) b->job(i, thread, b->arg);
}

static void *helper_main(void *arg) {
  struct helper *h = arg;
  work(h->batch, h->thread);
  return NULL;
}

int parallel_threads(void) {
  if (!nthreads) {
    cpu_set_t set;
    CPU_ZERO(&set);   /* the kernel fills only its own mask's bytes */
    nthreads = sched_getaffinity(0, sizeof set, &set) == 0 ? CPU_COUNT(&set) : 1;
    if (nthreads > PARALLEL_MAX) nthreads = PARALLEL_MAX;
    if (nthreads < 1) nthreads = 1;
  }
  return nthreads;
}

void parallel_run(int n, void (*job)(int item, int thread, void *arg), void *arg) {
  struct batch batch = { job, arg, n, 0 };
  struct helper helpers[PARALLEL_MAX - 1];
  pthread_t tids[PARALLEL_MAX - 1];
  int started = 0;
  while (started < parallel_threads() - 1 && started < n - 1) {
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstack(&attr, stacks[started], HELPER_STACK);
    helpers[started] = (struct helper){ &batch, started + 1 };
    int rc = pthread_create(&tids[started], &attr, helper_main, &helpers[started]);
    pthread_attr_destroy(&attr);
    if (rc != 0) break; /* fewer helpers: slower, not wrong */
    started++;
  }
  work(&batch, 0);
  for (int i = 0; i < started; i++) pthread_join(tids[i], NULL);
}
