/* A NETLINK_ROUTE socket held open (as glibc and network tools keep one):
 * every tick it asks the kernel for the list of links (RTM_GETLINK dump)
 * and counts the answers, which must include the loopback link. After a
 * restart the socket is a new one of the same protocol and must work as
 * before. Prints "tick N links=K"; BROKEN when the dump fails. */
#include <errno.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static int count_links(int fd, unsigned seq) {
  struct { struct nlmsghdr h; struct ifinfomsg i; } req = {
    .h = { .nlmsg_len = sizeof req, .nlmsg_type = RTM_GETLINK, .nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP, .nlmsg_seq = seq },
    .i = { .ifi_family = AF_UNSPEC },
  };
  if (send(fd, &req, sizeof req, 0) != (ssize_t)sizeof req) return -1;
  static char buf[1 << 16];
  int links = 0;
  for (;;) {
    ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return -1;
    for (struct nlmsghdr *h = (void *)buf; NLMSG_OK(h, (size_t)n); h = NLMSG_NEXT(h, n)) {
      if (h->nlmsg_seq != seq) continue;   /* an answer to a request from before */
      if (h->nlmsg_type == NLMSG_DONE) return links;
      if (h->nlmsg_type == NLMSG_ERROR) return -1;
      if (h->nlmsg_type == RTM_NEWLINK) links++;
    }
  }
}

int main(void) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
  struct sockaddr_nl a = { .nl_family = AF_NETLINK };
  if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) < 0) { perror("netlink"); return 1; }
  for (long tick = 0;; tick++) {
    int links = count_links(fd, (unsigned)tick + 1);
    if (links < 1) { printf("BROKEN the link dump gave %d\n", links); return 3; }
    printf("tick %ld links=%d\n", tick, links);
    struct timespec ts = { 0, 100000000 };
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR) {}
  }
}
