/* 8 threads take turns on a shared counter under a mutex and a condition
 * variable: thread k may only increment when counter % 8 == k. Each line
 * "turn N" proves the hand-off still works; each thread also checks that the
 * counter never skips or repeats. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <errno.h>

#define NT 8
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t turn = PTHREAD_COND_INITIALIZER;
static long counter;
static long per_thread[NT];

static void *worker(void *arg) {
  long k = (long)arg;
  for (;;) {
    pthread_mutex_lock(&lock);
    while (counter % NT != k) pthread_cond_wait(&turn, &lock);
    long before = counter;
    counter++;
    per_thread[k]++;
    long sum = 0;
    for (int i = 0; i < NT; i++) sum += per_thread[i];
    if (sum != counter || counter != before + 1) { printf("BROKEN sum=%ld counter=%ld\n", sum, counter); exit(1); }
    if (counter % 40 == 0) printf("turn %ld\n", counter);
    pthread_cond_broadcast(&turn);
    pthread_mutex_unlock(&lock);
    struct timespec ts = { 0, 2 * 1000000 };
    while (nanosleep(&ts, &ts) == -1 && errno == EINTR) {}
  }
  return NULL;
}

int main(void) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  pthread_t th[NT];
  for (long k = 0; k < NT; k++) pthread_create(&th[k], NULL, worker, (void *)k);
  for (int k = 0; k < NT; k++) pthread_join(th[k], NULL);
  return 0;
}
