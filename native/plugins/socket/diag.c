/* What the kernel knows about a socket that the socket API does not say
 * (its peer, its shutdown state), asked through sock_diag netlink, which
 * needs no privilege. */
#include "sock.h"
#include <errno.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <linux/unix_diag.h>
#include <netinet/in.h>
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
    case UNIX_DIAG_RQLEN:
      if (n >= sizeof(struct unix_diag_rqlen)) out->backlog = (int)((const struct unix_diag_rqlen *)v)->udiag_wqueue;
      break;
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
           .udiag_show = UDIAG_SHOW_NAME | UDIAG_SHOW_PEER | UDIAG_SHOW_RQLEN, .udiag_cookie = { INET_DIAG_NOCOOKIE, INET_DIAG_NOCOOKIE } },
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

/* One request, one answer: the first message of the reply into `reply`
 * (cap bytes); its length, or -1 with errno. */
static ssize_t ask(const void *req, size_t len, char *reply, size_t cap) {
  int nl = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
  if (nl < 0) return -1;
  struct sockaddr_nl kernel = { .nl_family = AF_NETLINK };
  ssize_t n = -1;
  if (sendto(nl, req, len, 0, (struct sockaddr *)&kernel, sizeof kernel) == (ssize_t)len)
    while ((n = recv(nl, reply, cap, 0)) < 0 && errno == EINTR) {}
  int err = errno;
  close(nl);
  errno = err;
  return n;
}

static void put_addr(const struct sockaddr_storage *a, __be16 *port, __be32 addr[4]) {
  if (a->ss_family == AF_INET) {
    const struct sockaddr_in *in = (const void *)a;
    *port = in->sin_port;
    addr[0] = in->sin_addr.s_addr;
  } else {
    const struct sockaddr_in6 *in6 = (const void *)a;
    *port = in6->sin6_port;
    memcpy(addr, &in6->sin6_addr, 16);
  }
}

int sock_inet_info(const struct sockaddr_storage *local, const struct sockaddr_storage *remote, struct inet_info *out) {
  memset(out, 0, sizeof *out);
  struct { struct nlmsghdr h; struct inet_diag_req_v2 r; } req = {
    .h = { .nlmsg_len = sizeof req, .nlmsg_type = SOCK_DIAG_BY_FAMILY, .nlmsg_flags = NLM_F_REQUEST },
    .r = { .sdiag_family = (unsigned char)local->ss_family, .sdiag_protocol = IPPROTO_TCP, .idiag_states = ~0u,
           .id = { .idiag_cookie = { INET_DIAG_NOCOOKIE, INET_DIAG_NOCOOKIE } } },
  };
  put_addr(local, &req.r.id.idiag_sport, req.r.id.idiag_src);
  put_addr(remote, &req.r.id.idiag_dport, req.r.id.idiag_dst);
  char buf[8192] __attribute__((aligned(8)));
  ssize_t n = ask(&req, sizeof req, buf, sizeof buf);
  if (n < 0) return -1;
  const struct nlmsghdr *h = (const void *)buf;
  if (n < (ssize_t)sizeof *h || !NLMSG_OK(h, (size_t)n)) { errno = EIO; return -1; }
  if (h->nlmsg_type == NLMSG_ERROR) {
    const struct nlmsgerr *e = NLMSG_DATA(h);
    errno = e->error ? -e->error : ENOENT;
    return -1;
  }
  if (h->nlmsg_type != SOCK_DIAG_BY_FAMILY || h->nlmsg_len < NLMSG_LENGTH(sizeof(struct inet_diag_msg))) { errno = EIO; return -1; }
  const struct inet_diag_msg *m = NLMSG_DATA(h);
  out->state = m->idiag_state;
  out->ino = m->idiag_inode;
  out->rqueue = m->idiag_rqueue;
  out->wqueue = m->idiag_wqueue;
  const char *p = (const char *)(m + 1), *end = (const char *)h + h->nlmsg_len;
  while (p + sizeof(struct nlattr) <= end) {
    const struct nlattr *a = (const void *)p;
    if (a->nla_len < sizeof *a || p + a->nla_len > end) break;
    if ((a->nla_type & NLA_TYPE_MASK) == INET_DIAG_SHUTDOWN && a->nla_len > NLA_HDRLEN) out->shutdown = (unsigned char)p[NLA_HDRLEN];
    p += NLA_ALIGN(a->nla_len);
  }
  return 0;
}
