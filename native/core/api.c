/* stasis_checkpoint(): a program asks for a checkpoint of its whole job. The
 * request goes over a connection of its own (the checkpoint thread's is busy
 * serving barriers); the calling thread is suspended like every other while
 * the checkpoint runs, and learns afterwards whether it woke up in the same
 * process or in one restored from the image. */
#include "core.h"
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static int open_command_connection(void) {
  const char *addr = stasis_restored ? stasis_restart_info.coord : stasis_cfg.coord;
  const char *token = stasis_restored ? stasis_restart_info.token : stasis_cfg.token;
  char host[256];
  snprintf(host, sizeof host, "%s", addr);
  char *colon = strrchr(host, ':');
  if (!colon) return -1;
  *colon = 0;
  struct sockaddr_in sa;
  memset(&sa, 0, sizeof sa);
  sa.sin_family = AF_INET;
  sa.sin_port = htons(atoi(colon + 1));
  if (inet_pton(AF_INET, strcmp(host, "localhost") == 0 ? "127.0.0.1" : host, &sa.sin_addr) != 1) return -1;
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  stasis_internal_fds[1] = fd;
  char hello[256];
  int n = snprintf(hello, sizeof hello, "HELLO 1 %s cmd\nCHECKPOINT\n", token);
  if (connect(fd, (void *)&sa, sizeof sa) < 0 || write(fd, hello, n) != n) {
    close(fd);
    stasis_internal_fds[1] = -1;
    return -1;
  }
  return fd;
}

API int stasis_checkpoint(void) {
  if (!stasis_cfg.signal) return -1;
  int before = stasis_restored;
  int fd = open_command_connection();
  if (fd < 0) return -1;
  /* Read until the reply to CHECKPOINT (after WELCOME) or the connection
   * disappears, which is what a restored process sees. */
  char buf[512];
  size_t len = 0;
  int lines = 0, ok = 0;
  while (lines < 2 && len < sizeof buf - 1) {
    ssize_t r = read(fd, buf + len, sizeof buf - 1 - len);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
    for (ssize_t i = 0; i < r; i++)
      if (buf[len + i] == '\n') lines++;
    len += r;
  }
  buf[len] = 0;
  ok = strstr(buf, "\nCHECKPOINTED ") != NULL;
  if (stasis_restored == before) close(fd);
  stasis_internal_fds[1] = -1;
  if (stasis_restored != before) return 1;
  return ok ? 0 : -1;
}
