/* Example: a critical section no checkpoint may cut. The program moves
 * money between two accounts, one transfer at a time, and a transfer is
 * slow (a journal to write, say): between taking the amount from one
 * account and adding it to the other, the money is nowhere. An image taken
 * there would restart with money lost. stasis_delay_begin()/end() around
 * each transfer keep checkpoints out: one requested meanwhile waits until
 * the transfer ends, and is taken before the next one begins.
 *
 * The program is its own plugin, to show where the checkpoint came: at
 * PRECHECKPOINT (sections have ended, threads still run) it prints which
 * transfer was the last and the balances, and in a restored process, at
 * RESTARTED, what the image held. Times are milliseconds since the epoch.
 *   begin K at T / end K at T                  transfer K
 *   checkpoint after K at T: a A b B total S   the image is taken now
 *   restored after K: a A b B total S          in a process restored from it
 * With ASK_AT, a second thread asks for a checkpoint itself
 * (stasis_checkpoint()) half-way through transfer ASK_AT:
 *   asking during K at T / asked: RC             (0 here, 1 once restored)
 * A checkpoint can also come from outside: `stasis command --checkpoint`.
 * Usage: transfer [SECTION_MS] [TRANSFERS] [ASK_AT] (2000 ms, forever, none) */
#include <pthread.h>
#include <stasis.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static long a = 1000, b = 0;   /* the accounts: a + b is always 1000 outside a transfer */
static long done;              /* transfers completed */
static volatile int inside;    /* a transfer is under way */

static long long now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

static void sleep_ms(long ms) {
  struct timespec ts = { ms / 1000, (ms % 1000) * 1000000 };
  nanosleep(&ts, NULL);
}

static int on_event(enum stasis_event ev) {
  if (ev == STASIS_EVENT_PRECHECKPOINT)
    printf("checkpoint after %ld at %lld: a %ld b %ld total %ld%s\n", done, now_ms(), a, b, a + b,
           inside ? " INSIDE A TRANSFER" : "");
  else if (ev == STASIS_EVENT_RESTARTED)
    printf("restored after %ld: a %ld b %ld total %ld%s\n", done, a, b, a + b, inside ? " INSIDE A TRANSFER" : "");
  return 0;
}

static long section_ms = 2000, ask_at;

/* Waits for transfer ASK_AT to be half-way, then asks for a checkpoint. */
static void *asker(void *unused) {
  (void)unused;
  while (!(inside && done + 1 == ask_at)) sleep_ms(1);
  sleep_ms(section_ms / 2);
  printf("asking during %ld at %lld\n", done + 1, now_ms());
  printf("asked: %d\n", stasis_checkpoint());
  return NULL;
}

static const struct stasis_plugin plugin = { "transfer", on_event };
__attribute__((constructor)) static void init(void) { stasis_register_plugin(&plugin); }

int main(int argc, char **argv) {
  if (argc > 1) section_ms = atol(argv[1]);
  long transfers = argc > 2 ? atol(argv[2]) : 0;
  ask_at = argc > 3 ? atol(argv[3]) : 0;
  setvbuf(stdout, NULL, _IOLBF, 0);
  pthread_t t;
  if (ask_at > 0 && pthread_create(&t, NULL, asker, NULL) != 0) return 2;
  printf("stasis %s\n", stasis_is_enabled() ? "enabled" : "not enabled");
  while (transfers == 0 || done < transfers) {
    stasis_delay_begin();
    inside = 1;
    printf("begin %ld at %lld\n", done + 1, now_ms());
    a -= 10;
    sleep_ms(section_ms);   /* the slow part: the money is nowhere */
    b += 10;
    done++;
    inside = 0;
    printf("end %ld at %lld\n", done, now_ms());
    int rc = stasis_delay_end();
    if (rc == STASIS_ERR_EXPIRED) printf("a checkpoint gave up waiting for transfer %ld\n", done);
    sleep_ms(20);
  }
  printf("a %ld b %ld total %ld\n", a, b, a + b);
  return 0;
}
