/* The virtual↔real pid table. It lives in the library's memory, so it is
 * in every image; at restart it is rebuilt from what each thread was before
 * (saved_tid) and is now. Lookups never lock: the table only changes while
 * the program's threads are stopped. */
#include "../../core/core.h"
#include "pid.h"
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

#define MAX_PAIRS 4096
struct pid_pair { pid_t virt, real; };
static struct pid_pair table[MAX_PAIRS];
static volatile int npairs;
static pid_t self_virt;   /* this process's pid as the program knows it */

pid_t pid_to_real(pid_t virt) {
  for (int i = 0; i < npairs; i++) if (table[i].virt == virt) return table[i].real;
  return virt;
}

pid_t pid_to_virt(pid_t real) {
  for (int i = 0; i < npairs; i++) if (table[i].real == real) return table[i].virt;
  return real;
}

int pid_is_virtual(pid_t id) {
  for (int i = 0; i < npairs; i++) if (table[i].virt == id && table[i].real != id) return 1;
  return 0;
}

/* A new process or thread whose kernel id is `id` would be mistaken for
 * another: the program knows `id` as someone else's id, or the table still
 * turns `id` into another virtual id (its old owner is gone: a re-made
 * zombie since reaped, an exited thread or process of the job). The kernel
 * hands out ids again once they wrap around pid_max. */
int pid_is_ambiguous(pid_t id) {
  for (int i = 0; i < npairs; i++)
    if (table[i].virt != table[i].real && (table[i].virt == id || table[i].real == id)) return 1;
  return 0;
}

int pid_is_translating(void) { return npairs > 0; }

void pid_forked_child(void) {
  self_virt = (pid_t)syscall(SYS_getpid);
}

/* Old reals are meaningless in a new process: keep only this process and
 * its threads, virtual ids from before, real ids from now. */
static void rebuild(void) {
  static struct pid_pair next[MAX_PAIRS];
  int n = 0;
  pid_t now = (pid_t)syscall(SYS_getpid);
  next[n++] = (struct pid_pair){ self_virt, now };
  for (int i = 0; i < stasis_nthreads && n < MAX_PAIRS; i++) {
    const struct thread_rec *t = &stasis_threads[i];
    if (t->is_ckpt || t->is_main) continue;
    next[n++] = (struct pid_pair){ pid_to_virt(t->saved_tid), t->tid };
  }
  /* Children the loader made without an image (re-made zombies). */
  for (const char *p = stasis_restart_info.children; *p && n < MAX_PAIRS;) {
    char *end;
    long v = strtol(p, &end, 10), r = *end == '=' ? strtol(end + 1, &end, 10) : 0;
    if (r <= 0) break;
    next[n++] = (struct pid_pair){ (pid_t)v, (pid_t)r };
    while (*end == ' ') end++;
    p = end;
  }
  for (int i = 0; i < n; i++) table[i] = next[i];
  __atomic_store_n(&npairs, n, __ATOMIC_SEQ_CST);
}

/* "PIDS v=r,v=r,...": where the job's other processes are now (restart);
 * a large table comes as several lines, each adding to it. */
static void learn_pids(const char *args) {
  for (const char *p = args; *p;) {
    char *end;
    long v = strtol(p, &end, 10);
    if (*end != '=') break;
    long r = strtol(end + 1, &end, 10);
    int i = 0;
    while (i < npairs && table[i].virt != v) i++;
    if (i == MAX_PAIRS) { stasis_log("pid table full (%d processes and threads): %ld not translated", MAX_PAIRS, v); break; }
    table[i] = (struct pid_pair){ (pid_t)v, (pid_t)r };
    if (r == syscall(SYS_getpid)) self_virt = (pid_t)v;   /* a new image of a restored process */
    if (i == npairs) __atomic_store_n(&npairs, npairs + 1, __ATOMIC_SEQ_CST);
    p = *end == ',' ? end + 1 : end;
    if (*end != ',') break;
  }
}

static int pid_event(enum stasis_event ev) {
  if (ev == STASIS_EVENT_RESTART) rebuild();
  return 0;
}

static const struct stasis_plugin pid_plugin = { "pid", pid_event };
STASIS_REGISTER static void pid_register(void) {
  self_virt = (pid_t)syscall(SYS_getpid);
  stasis_register_plugin(&pid_plugin);
  stasis_on_coord_line("PIDS", learn_pids);
}
