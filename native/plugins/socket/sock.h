/* Shared by the socket kinds (one per family): what the kernel tells about
 * a socket (sock_diag), the common options, and a growable mmap'd buffer
 * for bytes copied out of receive queues (no malloc on the checkpoint thread). */
#ifndef STASIS_SOCK_H
#define STASIS_SOCK_H
#include <stddef.h>
#include <sys/socket.h>
#include <sys/types.h>

/* A UNIX socket as sock_diag describes it (by inode, in our netns). */
struct unix_info {
  int type;               /* SOCK_STREAM, SOCK_DGRAM, SOCK_SEQPACKET */
  int state;              /* TCP_ESTABLISHED (connected), TCP_LISTEN, TCP_CLOSE */
  int shutdown;           /* sk_shutdown: 1 no more receiving, 2 no more sending */
  unsigned peer;          /* the peer's inode; 0 when none or gone */
  int name_len;           /* bytes of the bound name (0: unnamed); abstract starts with \0 */
  int backlog;            /* a listening socket's */
  char name[108];
};
/* 0, or -1 with errno. */
int sock_unix_info(unsigned long long ino, struct unix_info *out);

/* A TCP socket as sock_diag describes it, found by its two addresses
 * (local, remote), in our netns: any process's socket on this host. */
struct inet_info {
  int state;              /* TCP_ESTABLISHED, TCP_CLOSE_WAIT, ... */
  int shutdown;           /* as for unix_info */
  unsigned ino;
  unsigned rqueue, wqueue; /* bytes not yet read; bytes not yet acknowledged */
};
/* 0, or -1 with errno (ENOENT: no such socket here). */
int sock_inet_info(const struct sockaddr_storage *local, const struct sockaddr_storage *remote, struct inet_info *out);

/* The socket options a program commonly sets (SOL_SOCKET level), read at
 * SAVE and set again on the new socket where they differ. */
struct sock_opts {
  int sndbuf, rcvbuf, passcred, peek_off, keepalive, reuseaddr, reuseport, rcvlowat, priority;
  struct timeval rcvtimeo, sndtimeo;
};
void sock_opts_save(int fd, struct sock_opts *o);
void sock_opts_restore(int fd, const struct sock_opts *o);

/* "ADDR PORT" of an IPv4 or IPv6 address; `none` and port 0 for another
 * family (common.c). */
const char *sock_inet_text(const struct sockaddr_storage *a, const char *none, char *buf, size_t cap);
/* Whether this process copies the queue of socket `ino`: of the job's
 * processes holding it on this host (after fork, several), the one with
 * the lowest pid does, so that they do not peek at it at once through its
 * one SO_PEEK_OFF (common.c). */
int sock_leads(unsigned long long ino);
/* A new descriptor (close-on-exec, 3 or above) of the socket the restart
 * loader made for socket `ino` and handed over as "KIND:INO"; -1 after
 * stasis_fail(). */
struct stasis_fd;
int sock_from_loader(const struct stasis_fd *f, const char *kind, unsigned long long ino);

/* Bytes appended at the end, in mmap'd memory that grows by mremap. */
struct growbuf { char *data; size_t len, cap; };
int growbuf_reserve(struct growbuf *b, size_t more);   /* 0, or -1 */
int growbuf_append(struct growbuf *b, const void *p, size_t n);
void growbuf_free(struct growbuf *b);
#endif
