/* Shared by the shared-memory test programs: a parent and two forked
 * children add to counters in one shared struct under one shared lock.
 * Each process counts its own increments in `per[me]` and in `total`.
 * Every 200 increments a process prints, under the lock,
 *   "seen K TOTAL P0 P1 P2"
 * where TOTAL must equal P0+P1+P2 (no increment lost, so the lock is
 * shared) and the others' counts grow (their writes are seen: the memory
 * is shared). Anything else prints "BROKEN ...". */
#include <errno.h>
#include <semaphore.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#define NPROC 3
struct counters {
  sem_t lock;             /* unused when the program locks with a named semaphore */
  long total, per[NPROC];
};

/* Optional: more checks, every 200 increments, under the lock. */
static __attribute__((unused)) void (*extra_check)(struct counters *c, int me);

static void nap_us(long us) {
  struct timespec ts = { 0, us * 1000 };
  while (nanosleep(&ts, &ts) == -1 && errno == EINTR) {}
}

static void locked(sem_t *lock) {
  while (sem_wait(lock) < 0)
    if (errno != EINTR) { printf("BROKEN sem_wait: %s\n", strerror(errno)); exit(1); }
}

static void unlocked(sem_t *lock) {
  if (sem_post(lock) < 0) { printf("BROKEN sem_post: %s\n", strerror(errno)); exit(1); }
}

static __attribute__((noreturn, unused)) void count_forever(struct counters *c, sem_t *lock, int me) {
  long mine = 0, last_seen[NPROC] = { 0 };
  for (;;) {
    locked(lock);
    long before = c->total;
    nap_us(50);   /* inside the lock: a lost update would show without it */
    c->total = before + 1;
    c->per[me]++;
    mine++;
    if (mine % 200 == 0) {
      long sum = 0;
      for (int k = 0; k < NPROC; k++) sum += c->per[k];
      if (sum != c->total) printf("BROKEN %d: total %ld but the parts add up to %ld\n", me, c->total, sum);
      for (int k = 0; k < NPROC; k++) {
        if (c->per[k] < last_seen[k]) printf("BROKEN %d: count of %d went back from %ld to %ld\n", me, k, last_seen[k], c->per[k]);
        last_seen[k] = c->per[k];
      }
      if (extra_check) extra_check(c, me);
      printf("seen %d %ld %ld %ld %ld\n", me, c->total, c->per[0], c->per[1], c->per[2]);
    }
    unlocked(lock);
    nap_us(300);
  }
}

/* Forks the children (they die with the parent) and counts in all three. */
static __attribute__((noreturn, unused)) void run_counters(struct counters *c, sem_t *lock) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  pid_t parent = getpid();
  for (int k = 1; k < NPROC; k++) {
    pid_t pid = fork();
    if (pid < 0) { perror("fork"); exit(1); }
    if (pid == 0) {
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (getppid() != parent) exit(1);
      count_forever(c, lock, k);
    }
  }
  count_forever(c, lock, 0);
}
