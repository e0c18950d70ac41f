/* A plugin for `stasis launch --with-plugin`: appends one line per event,
 * "PID EVENT GEN", to the file named by STASIS_TEST_EVENT_LOG (read once
 * when loaded; a line "PID loaded 0" says so). Writes with plain system
 * calls: most events run while the program's threads are stopped. With
 * STASIS_TEST_REFUSE set it refuses every checkpoint at PRECHECKPOINT. */
#include <fcntl.h>
#include <stasis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char log_path[1024];
static int refuse;

static const char *names[] = {
  [STASIS_EVENT_SUSPENDED] = "suspended", [STASIS_EVENT_SAVE] = "save",
  [STASIS_EVENT_RESUME] = "resume", [STASIS_EVENT_RESTART] = "restart",
  [STASIS_EVENT_RESTARTED] = "restarted", [STASIS_EVENT_ALL_RESTORED] = "all-restored",
  [STASIS_EVENT_DRAIN] = "drain", [STASIS_EVENT_PRECHECKPOINT] = "precheckpoint", [STASIS_EVENT_POSTCHECKPOINT] = "postcheckpoint",
  [STASIS_EVENT_THREAD_START] = "thread-start", [STASIS_EVENT_THREAD_EXIT] = "thread-exit",
};

static void log_line(const char *what) {
  char line[128];
  int n = snprintf(line, sizeof line, "%d %s %d\n", (int)getpid(), what, stasis_checkpoint_generation());
  int fd = open(log_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return;
  if (write(fd, line, (size_t)n) != n) stasis_fail("event_log: short write");
  close(fd);
}

static int on_event(enum stasis_event ev) {
  unsigned i = (unsigned)ev;
  log_line(i < sizeof names / sizeof names[0] && names[i] ? names[i] : "unknown");
  if (refuse && ev == STASIS_EVENT_PRECHECKPOINT) {
    stasis_fail("event_log refuses the checkpoint");
    return -1;
  }
  return 0;
}

static const struct stasis_plugin plugin = { "event_log", on_event };

__attribute__((constructor)) static void event_log_init(void) {
  const char *p = getenv("STASIS_TEST_EVENT_LOG");
  if (!p) return;
  snprintf(log_path, sizeof log_path, "%s", p);
  refuse = getenv("STASIS_TEST_REFUSE") != NULL;
  if (stasis_register_plugin(&plugin) == STASIS_OK) log_line("loaded");
}
