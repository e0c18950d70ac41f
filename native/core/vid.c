/* Virtual ids (stasis.h): stable numbers a program keeps in its memory for
 * real ids that change when the object behind them is re-made (a server's
 * session or backend id, a handle a plugin reopens). The table lives in
 * this library's memory, so it is in the image; after a restart the plugin
 * that re-makes an object tells the table its new real id. A spin lock
 * taken with every signal blocked, as for plugin data (api.c): no thread
 * is ever stopped holding it, so handlers may use the table too. */
#include "core.h"
#include <sched.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#define MAX_TABLES 16
#define MAX_VIDS 4096
static char tables[MAX_TABLES][32];
static struct vid { int table; long vid, real; } vids[MAX_VIDS];   /* table 0: free slot */
static long next_vid[MAX_TABLES];
static volatile int lock;

static void enter(sigset_t *old) {
  sigset_t all;
  sigfillset(&all);
  syscall(SYS_rt_sigprocmask, SIG_BLOCK, &all, old, 8);
  while (__atomic_exchange_n(&lock, 1, __ATOMIC_ACQUIRE)) sched_yield();
}

static void leave(sigset_t *old) {
  __atomic_store_n(&lock, 0, __ATOMIC_RELEASE);
  syscall(SYS_rt_sigprocmask, SIG_SETMASK, old, NULL, 8);
}

/* 1-based table number, 0 when absent (created when `create`), -1 when full. */
static int table_of(const char *name, int create) {
  for (int i = 1; i < MAX_TABLES; i++)
    if (tables[i][0] && strcmp(tables[i], name) == 0) return i;
  if (!create) return 0;
  for (int i = 1; i < MAX_TABLES; i++)
    if (!tables[i][0]) { strcpy(tables[i], name); return i; }
  return -1;
}

static struct vid *find(int t, long vid, long real) {
  for (int i = 0; i < MAX_VIDS; i++)
    if (vids[i].table == t && (vid < 0 || vids[i].vid == vid) && (real < 0 || vids[i].real == real)) return &vids[i];
  return NULL;
}

static int bad(const char *table) { return !table || !table[0] || strlen(table) >= sizeof tables[0]; }

API long stasis_vid_new(const char *table, long real) {
  if (bad(table) || real < 0) return STASIS_ERR_INVALID;
  sigset_t old;
  enter(&old);
  long rc = STASIS_ERR_NO_SPACE;
  int t = table_of(table, 1);
  struct vid *v = t > 0 ? find(0, -1, -1) : NULL;
  if (v) {
    rc = ++next_vid[t];
    *v = (struct vid){ t, rc, real };
  }
  leave(&old);
  return rc;
}

API long stasis_vid_real(const char *table, long vid) {
  if (bad(table) || vid <= 0) return STASIS_ERR_INVALID;
  sigset_t old;
  enter(&old);
  int t = table_of(table, 0);
  struct vid *v = t > 0 ? find(t, vid, -1) : NULL;
  long rc = v ? v->real : STASIS_ERR_NOT_FOUND;
  leave(&old);
  return rc;
}

API long stasis_vid_virtual(const char *table, long real) {
  if (bad(table) || real < 0) return STASIS_ERR_INVALID;
  sigset_t old;
  enter(&old);
  int t = table_of(table, 0);
  struct vid *v = t > 0 ? find(t, -1, real) : NULL;
  long rc = v ? v->vid : STASIS_ERR_NOT_FOUND;
  leave(&old);
  return rc;
}

API int stasis_vid_set(const char *table, long vid, long real) {
  if (bad(table) || vid <= 0 || real < 0) return STASIS_ERR_INVALID;
  sigset_t old;
  enter(&old);
  int t = table_of(table, 0);
  struct vid *v = t > 0 ? find(t, vid, -1) : NULL;
  if (v) v->real = real;
  leave(&old);
  return v ? STASIS_OK : STASIS_ERR_NOT_FOUND;
}

API int stasis_vid_drop(const char *table, long vid) {
  if (bad(table) || vid <= 0) return STASIS_ERR_INVALID;
  sigset_t old;
  enter(&old);
  int t = table_of(table, 0);
  struct vid *v = t > 0 ? find(t, vid, -1) : NULL;
  if (v) v->table = 0;
  leave(&old);
  return v ? STASIS_OK : STASIS_ERR_NOT_FOUND;
}
