/* Socket addresses from the text of the loader's records (loader_inet.c). */
#ifndef STASIS_LOADER_INET_H
#define STASIS_LOADER_INET_H
#include <stddef.h>
#include <sys/socket.h>

/* "ADDR" and port as a socket address of `family` (an IPv4 address for an
 * IPv6 socket becomes ::ffff:a.b.c.d, and the reverse); 0, or -1 when the
 * address has no form in that family. */
int inet_sockaddr(int family, const char *addr, unsigned port, struct sockaddr_storage *ss, socklen_t *len);
/* A socket's own end: its address as text in ip[cap], and its port; 0 (ip "") when unknown. */
unsigned inet_sock_name(int fd, char *ip, size_t cap);
#endif
