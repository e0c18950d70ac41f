/* Thread events (API version 2): the program is its own plugin and prints
 * "start IDX tid T" at THREAD_START and "exit IDX tid T ctx RC" at
 * THREAD_EXIT, where IDX is the thread's own thread-local index (0 until
 * its routine sets it) and RC what stasis_checkpoint() answers in the
 * handler. Threads 1 (returns) and 2 (pthread_exit) run and are joined,
 * 3 waits; the main thread prints "ready", calls stasis_checkpoint() and
 * prints "returned RC". In the same process (0) it waits to be killed;
 * restored (1) or without stasis (-1) it lets 3 end, runs 4, starts 5 and
 * cancels it (blocked in pause()), prints "done".
 * Usage: api_threads */
#include <pthread.h>
#include <stasis.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static __thread int my_index;
static volatile int third_running, fifth_running, stop;

static int on_event(enum stasis_event ev) {
  if (ev == STASIS_EVENT_THREAD_START) printf("start %d tid %d\n", my_index, (int)gettid());
  else if (ev == STASIS_EVENT_THREAD_EXIT)
    printf("exit %d tid %d ctx %d\n", my_index, (int)gettid(), stasis_checkpoint());
  return 0;   /* every other event, those of a later version included */
}

static const struct stasis_plugin plugin = { "api_threads", on_event };
__attribute__((constructor)) static void init(void) { stasis_register_plugin(&plugin); }

static void *routine(void *arg) {
  my_index = (int)(long)arg;
  printf("run %d tid %d\n", my_index, (int)gettid());
  if (my_index == 2) pthread_exit(NULL);
  if (my_index == 5) {
    fifth_running = 1;
    for (;;) pause();   /* a cancellation point */
  }
  if (my_index == 3) {
    third_running = 1;
    while (!stop) usleep(10000);
  }
  return NULL;
}

static pthread_t start(long index) {
  pthread_t t;
  if (pthread_create(&t, NULL, routine, (void *)index) != 0) exit(2);
  return t;
}

int main(void) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  printf("api %d enabled %d\n", stasis_api_version(), stasis_is_enabled());
  pthread_join(start(1), NULL);
  pthread_join(start(2), NULL);
  pthread_t third = start(3);
  while (!third_running) usleep(1000);
  printf("ready\n");
  int rc = stasis_checkpoint();
  printf("returned %d\n", rc);
  if (rc == STASIS_CHECKPOINTED) for (;;) pause();
  stop = 1;
  pthread_join(third, NULL);
  pthread_join(start(4), NULL);
  pthread_t fifth = start(5);
  while (!fifth_running) usleep(1000);
  pthread_cancel(fifth);
  pthread_join(fifth, NULL);
  printf("done\n");
  return 0;
}
