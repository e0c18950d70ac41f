/* The loader's TCP records (loader_tcp.c reads them from IMAGE.tcp), and
 * what loader_xtcp.c (connections whose other end another loader restores)
 * shares with it. */
#ifndef STASIS_LOADER_TCP_H
#define STASIS_LOADER_TCP_H
#include <stddef.h>
#include <sys/socket.h>
#include "loader_inet.h"

struct tcp_rec {
  int listen, family, shutdown, has_bytes, backlog, v6only, fd, reuseport, made;
  int far;                        /* the peer is in the job, restored by another loader */
  int sock, listener, acceptor;   /* loader_xtcp.c's, while it makes the connection */
  unsigned long long ino, peer;   /* peer: its inode on this host, 0 when outside the job or on another host */
  char laddr[64], paddr[64];
  unsigned lport, pport;
  const char *bytes;
  size_t len;
  const char *image;
};

void tcp_set_buffers(int fd, size_t bytes);
int tcp_hand_over(const struct tcp_rec *r, int fd, char *out, size_t cap);
/* Every record with `far` set among recs[0..n): made again through the
 * coordinator's name service, bytes in flight put back; 0, or -1 after
 * one line on stderr. */
int xtcp_connect_all(struct tcp_rec *recs, int n, char *out, size_t cap);
/* The local address of this loader's connection to the coordinator ("" before xtcp_connect_all opened it). */
extern char xtcp_host_addr[64];
#endif
