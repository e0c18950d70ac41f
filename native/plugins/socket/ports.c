/* Keeping a restart on this host from finding its TCP ports held.
 * A connection the kernel closes with FIN leaves its port in TIME_WAIT for
 * a minute, and bind() may take such a port only when both the old socket
 * and the new one had SO_REUSEADDR; a program that never set it (UCX's
 * listeners in MPICH ranks) could not be restored listening on its port
 * until then. So:
 *  - at RESUME (after each checkpoint, and in a restored process) every TCP
 *    socket of the process gets SO_REUSEADDR: whatever TIME_WAIT it leaves
 *    later, and every connection a listener accepts from then on, lets the
 *    restart bind again. The program sees the option set if it asks
 *    (getsockopt); nothing else changes for a socket that is not listening,
 *    and a second listener on a port still fails;
 *  - a TCP socket gets it when it starts listening, too: a connection it
 *    accepts before the first checkpoint and closes first itself (MPI's
 *    simultaneous connects) leaves TIME_WAIT that would hold the port;
 *  - when the coordinator kills the job (KILL), every TCP socket closes
 *    with a reset: no TIME_WAIT at all. Peers in the job go with it; one
 *    outside sees ECONNRESET instead of EOF. */
#include "../../core/core.h"
#include <dirent.h>
#include <fcntl.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <dlfcn.h>

static int is_tcp(int fd) {
  int proto = 0;
  socklen_t n = sizeof proto;
  return getsockopt(fd, SOL_SOCKET, SO_PROTOCOL, &proto, &n) == 0 && proto == IPPROTO_TCP;
}

/* Calls fn(fd) for each TCP socket of the process. Only while the
 * program's threads are stopped (RESUME) or about to die (KILL): a
 * descriptor opened while they run could be taken by a double close. */
static void each_tcp(void (*fn)(int)) {
  int dfd = open("/proc/self/fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  char buf[4096];
  long n;
  if (dfd < 0) return;
  while ((n = syscall(SYS_getdents64, dfd, buf, sizeof buf)) > 0)
    for (long at = 0; at < n;) {
      struct dirent64 *e = (struct dirent64 *)(buf + at);
      int fd = atoi(e->d_name);
      at += e->d_reclen;
      if (e->d_name[0] != '.' && fd != dfd && !stasis_is_internal_fd(fd) && is_tcp(fd)) fn(fd);
    }
  close(dfd);
}

static void reset(int fd) {
  struct linger now = { 1, 0 };
  setsockopt(fd, SOL_SOCKET, SO_LINGER, &now, sizeof now);
}
static void reuse(int fd) {
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
}
static void reset_on_close(void) { each_tcp(reset); }

typedef int (*listen_fn)(int, int);
static listen_fn real_listen;

API int listen(int fd, int backlog) {
  if (!real_listen) real_listen = (listen_fn)dlsym(RTLD_NEXT, "listen");   /* before our constructor */
  if (is_tcp(fd)) reuse(fd);
  return real_listen(fd, backlog);
}

static int reuse_ports(enum stasis_event ev) {
  if (ev == STASIS_EVENT_RESUME) each_tcp(reuse);
  return 0;
}

static const struct stasis_plugin ports_plugin = { "tcp ports", reuse_ports };
STASIS_REGISTER static void ports_register(void) {
  real_listen = (listen_fn)dlsym(RTLD_NEXT, "listen");
  stasis_at_kill(reset_on_close);
  stasis_register_plugin_for(&ports_plugin, STASIS_EVENT_BIT(STASIS_EVENT_RESUME));
}
