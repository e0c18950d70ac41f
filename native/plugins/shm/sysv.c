/* SysV shared memory ids. A restored segment is a new segment with a new
 * id; the program keeps the id it got. shmget/shmat/shmctl are wrapped and
 * translate the program's (virtual) ids to the kernel's (real) ones. Before
 * any restart both are the same. At restart the new id of each segment this
 * process had attached is read from its maps (the loader attached the new
 * segment at the old address, and maps shows a segment's id as its inode);
 * a segment known but not attached is found again by its key, and one with
 * no key (IPC_PRIVATE) is lost to this process (its id then fails EINVAL).
 * A segment already removed (IPC_RMID) at the checkpoint is removed again
 * once every process of the job is restored. */
#include "../../core/core.h"
#include "../fd/fdutil.h"
#include "shm.h"
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/shm.h>

#define MAX_IDS 512
struct id_rec { int virt, real, dead, moved; key_t key; };
static struct id_rec ids[MAX_IDS];
static int nids;
static volatile int lock;

#define MAX_ATTACHED 512
static struct { unsigned long long addr; int id, dest; } attached[MAX_ATTACHED];
static int nattached;

static void take(void) { while (__atomic_exchange_n(&lock, 1, __ATOMIC_ACQUIRE)) {} }
static void drop(void) { __atomic_store_n(&lock, 0, __ATOMIC_RELEASE); }

static struct id_rec *by_virt(int virt) {
  for (int i = 0; i < nids; i++) if (ids[i].virt == virt) return &ids[i];
  return NULL;
}

/* -1 (errno EINVAL) for a segment that did not come back. */
static int real_of(int virt) {
  take();
  struct id_rec *r = by_virt(virt);
  int real = r ? (r->dead ? -1 : r->real) : virt;
  drop();
  if (real < 0) errno = EINVAL;
  return real;
}

/* The program's id for a kernel id: the same number unless a segment
 * restored earlier already goes by it. */
static int virt_of(int real, key_t key) {
  take();
  int virt = real;
  for (int i = 0; i < nids; i++)
    if (ids[i].real == real && !ids[i].dead) { virt = ids[i].virt; drop(); return virt; }
  while (by_virt(virt)) virt = virt == 0x7fffffff ? 1 : virt + 1;
  if (nids < MAX_IDS) ids[nids++] = (struct id_rec){ virt, real, 0, 0, key };
  drop();
  return virt;
}

/* Resolved when the library loads (dlsym may take locks later), or at the
 * first call when that comes first: another library's constructor (UCX's
 * libucm, loaded by MPICH's ranks) can run before ours. */
static int (*real_shmget)(key_t, size_t, int);
static void *(*real_shmat)(int, const void *, int);
static int (*real_shmctl)(int, int, struct shmid_ds *);
static void resolve(void) {
  if (!real_shmget) real_shmget = (int (*)(key_t, size_t, int))dlsym(RTLD_NEXT, "shmget");
  if (!real_shmat) real_shmat = (void *(*)(int, const void *, int))dlsym(RTLD_NEXT, "shmat");
  if (!real_shmctl) real_shmctl = (int (*)(int, int, struct shmid_ds *))dlsym(RTLD_NEXT, "shmctl");
}

API int shmget(key_t key, size_t size, int flags) {
  if (!real_shmget) resolve();
  int id = real_shmget(key, size, flags);
  return id < 0 ? id : virt_of(id, key);
}

API void *shmat(int id, const void *addr, int flags) {
  if (!real_shmat) resolve();
  int r = real_of(id);
  return r < 0 ? (void *)-1 : real_shmat(r, addr, flags);
}

API int shmctl(int id, int cmd, struct shmid_ds *buf) {
  if (!real_shmctl) resolve();
  /* These take an index into the kernel's table, not an id. */
  if (cmd == IPC_INFO || cmd == SHM_INFO || cmd == SHM_STAT || cmd == SHM_STAT_ANY) return real_shmctl(id, cmd, buf);
  int r = real_of(id);
  return r < 0 ? -1 : real_shmctl(r, cmd, buf);
}

void sysv_forget_attached(void) { nattached = 0; }

void sysv_attached(unsigned long long addr, int id, int dest) {
  if (nattached < MAX_ATTACHED) {
    attached[nattached].addr = addr; attached[nattached].id = id; attached[nattached++].dest = dest;
  }
  take();
  int known = 0;
  for (int i = 0; i < nids; i++) known |= ids[i].real == id && !ids[i].dead;
  if (!known && nids < MAX_IDS) ids[nids++] = (struct id_rec){ id, id, 0, 0, IPC_PRIVATE };
  drop();
}

/* The id of the SysV segment mapped at addr now, or -1. */
static int segment_at(const char *maps, unsigned long long addr) {
  for (const char *l = maps; l && *l; l = strchr(l, '\n'), l = l ? l + 1 : NULL) {
    unsigned long long start, ino;
    int pos = 0;
    if (sscanf(l, "%llx-%*x %*s %*x %*s %llu %n", &start, &ino, &pos) >= 2 && start == addr && pos &&
        strncmp(l + pos, "/SYSV", 5) == 0)
      return (int)ino;
  }
  return -1;
}

static void translate_after_restart(void) {
  static char *maps;
  static size_t cap;
  if (fdu_slurp("/proc/self/maps", &maps, &cap) < 0) maps = NULL;
  for (int i = 0; i < nids; i++) ids[i].moved = 0;
  for (int a = 0; a < nattached; a++) {
    int now = maps ? segment_at(maps, attached[a].addr) : -1;
    for (int i = 0; i < nids; i++)
      if (!ids[i].moved && ids[i].real == attached[a].id) { ids[i].real = now; ids[i].dead = now < 0; ids[i].moved = 1; }
    attached[a].id = now;
  }
  for (int i = 0; i < nids; i++) {
    if (ids[i].moved || ids[i].dead) continue;
    ids[i].real = ids[i].key != IPC_PRIVATE ? real_shmget(ids[i].key, 0, 0) : -1;
    ids[i].dead = ids[i].real < 0;
  }
}

static void remove_destroyed(void) {
  for (int a = 0; a < nattached; a++)
    if (attached[a].dest && attached[a].id >= 0) real_shmctl(attached[a].id, IPC_RMID, NULL);
}

static int sysv_event(enum stasis_event ev) {
  if (ev == STASIS_EVENT_RESTART) translate_after_restart();
  if (ev == STASIS_EVENT_RESTARTED) remove_destroyed();
  return 0;
}

static const struct stasis_plugin sysv_plugin = { "sysv", sysv_event };
STASIS_REGISTER static void sysv_register(void) {
  resolve();
  stasis_register_plugin(&sysv_plugin);
}
