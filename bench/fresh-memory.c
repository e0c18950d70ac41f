/* The floor under any restart that materializes memory: map SIZE MiB of
 * fresh anonymous memory, fill it on every CPU (huge pages advised, as the
 * restart loader does), then read it once (as the restored program's first
 * pass does). Prints the seconds taken. On VMs whose balloon reports free
 * pages to the host, fresh memory is far slower than a memcpy: this is what
 * the restart's time should be compared with. With "4k" after SIZE no huge
 * pages are advised: on these VMs faulting in 2 MiB pages is at times several
 * times slower than 4 KiB ones, so the floor is the faster of the two. */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

static unsigned char *base;
static size_t part;

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec / 1e9;
}

static void *fill(void *arg) {
  memset(base + (size_t)arg * part, 0x5a, part);
  return NULL;
}

int main(int argc, char **argv) {
  size_t bytes = (argc > 1 ? strtoul(argv[1], NULL, 10) : 1024) << 20;
  cpu_set_t set;
  int n = sched_getaffinity(0, sizeof set, &set) == 0 ? CPU_COUNT(&set) : 1;
  if (n > 64) n = 64;
  double t0 = now();
  base = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (base == MAP_FAILED) { perror("fresh-memory: mmap"); return 1; }
  if (!(argc > 2 && strcmp(argv[2], "4k") == 0)) madvise(base, bytes, MADV_HUGEPAGE);
  part = bytes / n;
  pthread_t t[64];
  for (long i = 0; i < n; i++) pthread_create(&t[i], NULL, fill, (void *)i);
  for (int i = 0; i < n; i++) pthread_join(t[i], NULL);
  uint64_t sum = 0;
  for (size_t i = 0; i < bytes / 8; i++) sum += ((uint64_t *)base)[i];
  printf("%.3f %llu\n", now() - t0, (unsigned long long)sum);
  return 0;
}
