/* What the kernel knows about a socket that the socket API does not say
 * (its peer, its shutdown state), asked through sock_diag netlink, which
 * needs no privilege. */
#include "sock.h"
#include <errno.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <linux/unix_diag.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static void read_attrs(const struct unix_diag_msg *m, size_t len, struct unix_info *out) {
  const char *p = (const char *)(m + 1), *end = (const char *)m + len;
  while (p + sizeof(struct nlattr) <= end) {
    const struct nlattr *a = (const void *)p;
    if (a->nla_len < sizeof *a || p + a->nla_len > end) break;
    const char *v = p + NLA_HDRLEN;
    size_t n = a->nla_len - NLA_HDRLEN;
    switch (a->nla_type & NLA_TYPE_MASK) {
    case UNIX_DIAG_NAME:
      out->name_len = n < sizeof out->name ? (int)n : (int)sizeof out->name;
      memcpy(out->name, v, (size_t)out->name_len);
      break;
    case UNIX_DIAG_PEER: if (n >= 4) memcpy(&out->peer, v, 4); break;
    case UNIX_DIAG_SHUTDOWN: if (n >= 1) out->shutdown = (unsigned char)v[0]; break;
    }
    p += NLA_ALIGN(a->nla_len);
  }
}

int sock_unix_info(unsigned long long ino, struct unix_info *out) {
  memset(out, 0, sizeof *out);
  int nl = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
  if (nl < 0) return -1;
  struct { struct nlmsghdr h; struct unix_diag_req r; } req = {
    .h = { .nlmsg_len = sizeof req, .nlmsg_type = SOCK_DIAG_BY_FAMILY, .nlmsg_flags = NLM_F_REQUEST },
    .r = { .sdiag_family = AF_UNIX, .udiag_states = ~0u, .udiag_ino = (unsigned)ino,
           .udiag_show = UDIAG_SHOW_NAME | UDIAG_SHOW_PEER, .udiag_cookie = { INET_DIAG_NOCOOKIE, INET_DIAG_NOCOOKIE } },
  };
  struct sockaddr_nl kernel = { .nl_family = AF_NETLINK };
  int rc = -1, err = EIO;
  if (sendto(nl, &req, sizeof req, 0, (struct sockaddr *)&kernel, sizeof kernel) == (ssize_t)sizeof req) {
    char buf[8192] __attribute__((aligned(8)));
    ssize_t n;
    while ((n = recv(nl, buf, sizeof buf, 0)) < 0 && errno == EINTR) {}
    const struct nlmsghdr *h = (const void *)buf;
    if (n < 0) err = errno;
    else if (n >= (ssize_t)sizeof *h && NLMSG_OK(h, (size_t)n)) {
      if (h->nlmsg_type == NLMSG_ERROR) {
        const struct nlmsgerr *e = NLMSG_DATA(h);
        err = e->error ? -e->error : ENOENT;
      } else if (h->nlmsg_type == SOCK_DIAG_BY_FAMILY && h->nlmsg_len >= NLMSG_LENGTH(sizeof(struct unix_diag_msg))) {
        const struct unix_diag_msg *m = NLMSG_DATA(h);
        out->type = m->udiag_type;
        out->state = m->udiag_state;
        read_attrs(m, h->nlmsg_len - NLMSG_HDRLEN, out);
        rc = 0;
      }
    }
  } else err = errno;
  close(nl);
  if (rc < 0) errno = err;
  return rc;
}
