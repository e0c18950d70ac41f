/* When the coordinator kills the job (KILL), every TCP socket is set to
 * close with a reset: a connection the kernel closes with FIN leaves its
 * port in TIME_WAIT for a minute, and a program that did not set
 * SO_REUSEADDR (UCX's listeners in MPICH ranks) could not be restored
 * listening on that port on this host until then. The job is ending: its
 * peers in the job go with it, one outside sees ECONNRESET instead of EOF. */
#include "../../core/core.h"
#include <dirent.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <sys/socket.h>

static void reset_tcp_on_close(void) {
  DIR *d = opendir("/proc/self/fd");
  if (!d) return;
  for (struct dirent *e; (e = readdir(d));) {
    int fd = atoi(e->d_name), proto = 0;
    socklen_t n = sizeof proto;
    if (fd == dirfd(d) || getsockopt(fd, SOL_SOCKET, SO_PROTOCOL, &proto, &n) < 0 || proto != IPPROTO_TCP) continue;
    struct linger now = { 1, 0 };
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &now, sizeof now);
  }
  closedir(d);
}

STASIS_REGISTER static void abort_register(void) { stasis_at_kill(reset_tcp_on_close); }
