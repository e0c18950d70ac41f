/* A threaded job that ends: T threads (default 4) take turns printing
 * "count 0" .. "count N-1" (thread k prints when i % T == k), one line every
 * 50 ms, then main prints "done" and exits 0. The output is that of
 * count_to whatever the threads' timing. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t turn = PTHREAD_COND_INITIALIZER;
static long next, n, nthreads;

static void *worker(void *arg) {
  long k = (long)arg;
  pthread_mutex_lock(&lock);
  for (;;) {
    while (next < n && next % nthreads != k) pthread_cond_wait(&turn, &lock);
    if (next >= n) break;
    printf("count %ld\n", next++);
    pthread_mutex_unlock(&lock);
    struct timespec ts = { 0, 50 * 1000000 };
    while (nanosleep(&ts, &ts) == -1 && errno == EINTR) {}
    pthread_mutex_lock(&lock);
    pthread_cond_broadcast(&turn);
  }
  pthread_cond_broadcast(&turn);
  pthread_mutex_unlock(&lock);
  return NULL;
}

int main(int argc, char **argv) {
  n = argc > 1 ? atol(argv[1]) : 100;
  nthreads = argc > 2 ? atol(argv[2]) : 4;
  if (nthreads < 1 || nthreads > 64) return 2;
  setvbuf(stdout, NULL, _IOLBF, 0);
  pthread_t t[64];
  for (long k = 0; k < nthreads; k++) pthread_create(&t[k], NULL, worker, (void *)k);
  for (long k = 0; k < nthreads; k++) pthread_join(t[k], NULL);
  printf("done\n");
  return 0;
}
