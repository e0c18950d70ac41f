/* stasis_checkpoint() through the client library, and a plugin's data kept
 * in the image. Prints the API it runs with, "ready PID", waits for a line
 * on stdin, saves "before" under the name "note", asks for a checkpoint
 * and prints "returned N": 0 in the same process (which then saves
 * "after"), 1 in a process restored from the image (which prints the note
 * it finds: "before", the value at the checkpoint), and a virtual id
 * registered before the checkpoint ("vid ..."). Then what the calls
 * answer in and around a delayed section, ticks and exits 0.
 * Without stasis every call answers -1 (not enabled) and it still exits 0.
 * Usage: api_ckpt [TICKS] */
#include <errno.h>
#include <stasis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv) {
  long ticks = argc > 1 ? atol(argv[1]) : 10;
  setvbuf(stdout, NULL, _IOLBF, 0);
  printf("api %d enabled %d timeout %ld\n", stasis_api_version(), stasis_is_enabled(), stasis_delay_timeout_ms());
  printf("ready %d\n", (int)getpid());
  char line[64];
  if (!fgets(line, sizeof line, stdin)) return 3;
  printf("save %d\n", stasis_data_save("note", "before", 7));
  long vid = stasis_vid_new("object", 100);
  int rc = stasis_checkpoint();
  printf("returned %d (%s)\n", rc, stasis_strerror(rc));
  /* The object "re-made" with another real id: the virtual one stays. */
  long real = stasis_vid_real("object", vid);
  int set = stasis_vid_set("object", vid, rc == STASIS_RESTARTED ? 300 : 200);
  printf("vid %ld real %ld set %d now %ld back %ld\n", vid, real, set, stasis_vid_real("object", vid),
         stasis_vid_virtual("object", rc == STASIS_RESTARTED ? 300 : 200));
  if (rc == STASIS_CHECKPOINTED) stasis_data_save("note", "after", 6);
  char note[32] = "";
  long n = stasis_data_load("note", note, sizeof note - 1);
  printf("note %ld %s\n", n, n > 0 ? note : "-");
  int b = stasis_delay_begin(), e = stasis_delay_end();
  printf("delay %d %d\n", b, e);
  /* Its own section would hold the checkpoint off forever: refused. */
  stasis_delay_begin();
  int inner = stasis_checkpoint();
  stasis_delay_end();
  printf("checkpoint inside a section %d\n", inner);
  for (long i = 0; i < ticks; i++) {
    printf("tick %ld\n", i);
    struct timespec ts = { 0, 100 * 1000000 };
    while (nanosleep(&ts, &ts) == -1 && errno == EINTR) {}
  }
  printf("done\n");
  return 0;
}
