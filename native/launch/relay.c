/* stasis-relay: which side this is (relay.h). */
#include "relay.h"
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const char *const role_names[NROLES] = { "in", "out", "err", "ctl" };

void die(int status, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fputs("stasis-relay: ", stderr);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
  exit(status);
}

int write_all(int fd, const void *buf, size_t len) {
  const char *p = buf;
  while (len) {
    ssize_t n = write(fd, p, len);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return -1;
    p += n;
    len -= (size_t)n;
  }
  return 0;
}

int read_full(int fd, void *buf, size_t len) {
  char *p = buf;
  while (len) {
    ssize_t n = read(fd, p, len);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return -1;
    p += n;
    len -= (size_t)n;
  }
  return 0;
}

int main(int argc, char **argv) {
  if (argc > 1 && !strcmp(argv[1], "--local")) return relay_local(argc - 2, argv + 2);
  if (argc > 1 && !strcmp(argv[1], "--remote")) return relay_remote(argc - 2, argv + 2);
  if (argc > 1 && !strcmp(argv[1], "--inside")) return relay_inside(argc - 2, argv + 2);
  fprintf(stderr, "usage: stasis-relay --local CLIENT ARGV... (run by libstasis in place of ssh, rsh or srun)\n");
  return 2;
}
