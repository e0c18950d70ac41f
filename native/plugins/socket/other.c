/* Sockets no kind handles yet (UDP-Lite, SCTP, raw, packet, other families): refused
 * with a message that says what they are, naming the descriptor (the fd
 * plugin adds the process), so the checkpoint fails and the program runs on. */
#include "../../core/core.h"
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>

static int get_int(int fd, int name) {
  int v = -1;
  socklen_t n = sizeof v;
  return getsockopt(fd, SOL_SOCKET, name, &v, &n) < 0 ? -1 : v;
}

static int handled(int domain, int protocol) {
  return domain == AF_UNIX || domain == AF_NETLINK || ((domain == AF_INET || domain == AF_INET6) && (protocol == IPPROTO_TCP || protocol == IPPROTO_UDP));
}

static int other_match(const struct stasis_fd *f) {
  return S_ISSOCK(f->mode) && !handled(get_int(f->fd, SO_DOMAIN), get_int(f->fd, SO_PROTOCOL));
}

static int other_save(const struct stasis_fd *f) {
  int domain = get_int(f->fd, SO_DOMAIN), type = get_int(f->fd, SO_TYPE), protocol = get_int(f->fd, SO_PROTOCOL);
  const char *family = domain == AF_INET ? "IPv4" : domain == AF_INET6 ? "IPv6" : domain == AF_PACKET ? "packet" : NULL;
  const char *what = protocol == IPPROTO_UDP ? "UDP" : protocol == IPPROTO_UDPLITE ? "UDP-Lite" : protocol == IPPROTO_SCTP ? "SCTP"
                     : type == SOCK_RAW ? "raw" : protocol == IPPROTO_ICMP || protocol == IPPROTO_ICMPV6 ? "ICMP" : NULL;
  if (family && what) stasis_fail("fd %d (%s) is a %s socket (%s): not supported yet", f->fd, f->target, what, family);
  else stasis_fail("fd %d (%s) is a socket of family %d, type %d, protocol %d: not supported yet", f->fd, f->target, domain, type, protocol);
  return -1;
}

static int other_restore(const struct stasis_fd *f, int cookie) {
  (void)f; (void)cookie;
  return -1;
}

static const struct stasis_fd_kind other_kind = {
  .name = "socket", .order = 0, .match = other_match, .save = other_save, .restore = other_restore,
};
STASIS_REGISTER static void other_register(void) { stasis_register_fd_kind(&other_kind); }
