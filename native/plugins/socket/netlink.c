/* Netlink sockets (glibc keeps a NETLINK_ROUTE one for getaddrinfo and
 * if_nameindex; programs ask the kernel about links and addresses): they
 * talk to the kernel, not to a peer, so a restored one is a new socket of
 * the same type and protocol, bound to the same multicast groups (the
 * kernel gives it a new port id). A request sent before the checkpoint and
 * not answered is not answered after a restart. */
#include "../../core/core.h"
#include "sock.h"
#include <errno.h>
#include <fcntl.h>
#include <linux/netlink.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/stat.h>

#define MAX_NETLINK 256
struct netlink_rec { int type, protocol; unsigned groups; struct sock_opts opts; };
static struct netlink_rec recs[MAX_NETLINK];
static int nrecs;

static int get_int(int fd, int name) {
  int v = -1;
  socklen_t n = sizeof v;
  return getsockopt(fd, SOL_SOCKET, name, &v, &n) < 0 ? -1 : v;
}

static int netlink_match(const struct stasis_fd *f) {
  return S_ISSOCK(f->mode) && get_int(f->fd, SO_DOMAIN) == AF_NETLINK;
}

static int netlink_save(const struct stasis_fd *f) {
  if (nrecs >= MAX_NETLINK) { stasis_fail("more than %d netlink sockets", MAX_NETLINK); return -1; }
  struct netlink_rec *r = &recs[nrecs];
  struct sockaddr_nl a = { 0 };
  socklen_t n = sizeof a;
  getsockname(f->fd, (struct sockaddr *)&a, &n);
  r->type = get_int(f->fd, SO_TYPE);
  r->protocol = get_int(f->fd, SO_PROTOCOL);
  r->groups = a.nl_pid ? a.nl_groups : 0;
  sock_opts_save(f->fd, &r->opts);
  return nrecs++;
}

static int netlink_restore(const struct stasis_fd *f, int cookie) {
  const struct netlink_rec *r = &recs[cookie];
  int fd = socket(AF_NETLINK, r->type | SOCK_CLOEXEC, r->protocol);
  struct sockaddr_nl a = { .nl_family = AF_NETLINK, .nl_groups = r->groups };
  if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) < 0 || fcntl(fd, F_SETFL, f->flags) < 0) {
    stasis_fail("cannot make netlink socket fd %d (protocol %d) again: %s", f->fd, r->protocol, strerror(errno));
    if (fd >= 0) close(fd);
    return -1;
  }
  sock_opts_restore(fd, &r->opts);
  return fd;
}

static void netlink_resume(void) { nrecs = 0; }

static const struct stasis_fd_kind netlink_kind = {
  .name = "netlink socket", .order = 0, .match = netlink_match, .save = netlink_save,
  .restore = netlink_restore, .resume = netlink_resume,
};
STASIS_REGISTER static void netlink_register(void) { stasis_register_fd_kind(&netlink_kind); }
