/* What the socket kinds (tcp.c, udp.c, unix.c, drain.c) share at SAVE and
 * RESTART: an address as the records and messages write it, which holder
 * of a socket copies its queue, and the descriptor the restart loader made
 * for a socket. */
#include "../../core/core.h"
#include "../fd/fdutil.h"
#include "sock.h"
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

const char *sock_inet_text(const struct sockaddr_storage *a, const char *none, char *buf, size_t cap) {
  char ip[INET6_ADDRSTRLEN];
  unsigned port = 0;
  snprintf(ip, sizeof ip, "%s", none);
  if (a->ss_family == AF_INET) {
    inet_ntop(AF_INET, &((const struct sockaddr_in *)a)->sin_addr, ip, sizeof ip);
    port = ntohs(((const struct sockaddr_in *)a)->sin_port);
  } else if (a->ss_family == AF_INET6) {
    inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)a)->sin6_addr, ip, sizeof ip);
    port = ntohs(((const struct sockaddr_in6 *)a)->sin6_port);
  }
  snprintf(buf, cap, "%s %u", ip, port);
  return buf;
}

int sock_from_loader(const struct stasis_fd *f, const char *kind, unsigned long long ino) {
  char name[48];
  snprintf(name, sizeof name, "%s:%llu", kind, ino);
  int from = fd_inherited(name);
  if (from < 0) {
    stasis_fail("fd %d (%s): the restart loader made no socket for it (was %s.%s lost?)", f->fd, f->target,
                stasis_restart_info.image, kind);
    return -1;
  }
  int fd = fcntl(from, F_DUPFD_CLOEXEC, 3);
  if (fd < 0) stasis_fail("cannot restore fd %d (%s): %s", f->fd, f->target, strerror(errno));
  return fd;
}

/* The job's holder of a socket with the lowest kernel pid on this host. */
struct lowest { char want[48]; int pid; };
static int visit_holder(const char *pid, const char *fd, const char *target, void *ctx) {
  (void)fd;
  struct lowest *l = ctx;
  int p = atoi(pid);
  if (strcmp(target, l->want) == 0 && (l->pid == 0 || p < l->pid) && fdu_in_job(pid)) l->pid = p;
  return 0;
}

int sock_leads(unsigned long long ino) {
  struct lowest l = { .pid = 0 };
  snprintf(l.want, sizeof l.want, "socket:[%llu]", ino);
  fdu_each_host_fd(visit_holder, &l);
  return l.pid == 0 || l.pid == (int)syscall(SYS_getpid);
}
