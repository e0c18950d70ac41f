/* Socket addresses for the loader's TCP and UDP parts (loader_tcp.c,
 * loader_xtcp.c, loader_udp.c), from the text their records hold. */
#include "loader_inet.h"
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

int inet_sockaddr(int family, const char *addr, unsigned port, struct sockaddr_storage *ss, socklen_t *len) {
  memset(ss, 0, sizeof *ss);
  if (family == AF_INET) {
    struct sockaddr_in *in = (void *)ss;
    in->sin_family = AF_INET;
    in->sin_port = htons((unsigned short)port);
    *len = sizeof *in;
    if (strncmp(addr, "::ffff:", 7) == 0) addr += 7;
    return inet_pton(AF_INET, addr, &in->sin_addr) == 1 ? 0 : -1;
  }
  struct sockaddr_in6 *in6 = (void *)ss;
  in6->sin6_family = AF_INET6;
  in6->sin6_port = htons((unsigned short)port);
  *len = sizeof *in6;
  char mapped[80];
  if (strchr(addr, '.') && !strchr(addr, ':')) { snprintf(mapped, sizeof mapped, "::ffff:%s", addr); addr = mapped; }
  return inet_pton(AF_INET6, addr, &in6->sin6_addr) == 1 ? 0 : -1;
}

unsigned inet_sock_name(int fd, char *ip, size_t cap) {
  struct sockaddr_storage at;
  socklen_t len = sizeof at;
  ip[0] = 0;
  if (fd < 0 || getsockname(fd, (struct sockaddr *)&at, &len) < 0) return 0;
  int v4 = at.ss_family == AF_INET;
  inet_ntop(at.ss_family, v4 ? (void *)&((struct sockaddr_in *)&at)->sin_addr : (void *)&((struct sockaddr_in6 *)&at)->sin6_addr, ip, (socklen_t)cap);
  return ntohs(v4 ? ((struct sockaddr_in *)&at)->sin_port : ((struct sockaddr_in6 *)&at)->sin6_port);
}
