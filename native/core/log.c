/* Messages to stderr, prefixed with the process, written with one write(2)
 * so lines of several processes do not interleave. */
#include "core.h"
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int stasis_debug_on;
static char failure[512];

static void vlog(const char *fmt, va_list ap) {
  char buf[1024];
  int n = snprintf(buf, sizeof buf, "stasis[%d]: ", getpid());
  n += vsnprintf(buf + n, sizeof buf - n - 1, fmt, ap);
  if (n > (int)sizeof buf - 2) n = sizeof buf - 2;
  buf[n++] = '\n';
  ssize_t w = write(2, buf, n);
  (void)w;
}

void stasis_log(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vlog(fmt, ap);
  va_end(ap);
}

void stasis_debug(const char *fmt, ...) {
  if (!stasis_debug_on) return;
  va_list ap;
  va_start(ap, fmt);
  vlog(fmt, ap);
  va_end(ap);
}

API void stasis_fail(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  if (!failure[0]) vsnprintf(failure, sizeof failure, fmt, ap);
  va_end(ap);
}

const char *stasis_failure(void) { return failure[0] ? failure : NULL; }
void stasis_clear_failure(void) { failure[0] = 0; }
