/* Socket options common to every family, read at SAVE and set again on the
 * restored socket where they differ from what it has. */
#include "sock.h"
#include <string.h>
#include <sys/socket.h>

static int get_int(int fd, int name) {
  int v = 0;
  socklen_t n = sizeof v;
  return getsockopt(fd, SOL_SOCKET, name, &v, &n) < 0 ? -1 : v;
}

static void get_tv(int fd, int name, struct timeval *tv) {
  socklen_t n = sizeof *tv;
  if (getsockopt(fd, SOL_SOCKET, name, tv, &n) < 0) memset(tv, 0, sizeof *tv);
}

void sock_opts_save(int fd, struct sock_opts *o) {
  o->sndbuf = get_int(fd, SO_SNDBUF);
  o->rcvbuf = get_int(fd, SO_RCVBUF);
  o->passcred = get_int(fd, SO_PASSCRED);
  o->peek_off = get_int(fd, SO_PEEK_OFF);
  o->keepalive = get_int(fd, SO_KEEPALIVE);
  o->reuseaddr = get_int(fd, SO_REUSEADDR);
  o->reuseport = get_int(fd, SO_REUSEPORT);
  o->rcvlowat = get_int(fd, SO_RCVLOWAT);
  o->priority = get_int(fd, SO_PRIORITY);
  get_tv(fd, SO_RCVTIMEO, &o->rcvtimeo);
  get_tv(fd, SO_SNDTIMEO, &o->sndtimeo);
}

static void set_int(int fd, int name, int want) {
  if (want < 0 || get_int(fd, name) == want) return;
  setsockopt(fd, SOL_SOCKET, name, &want, sizeof want);
}

/* The kernel doubles what it is given (bookkeeping overhead) and reports
 * the doubled value; above net.core.[rw]mem_max only the FORCE variant
 * (CAP_NET_ADMIN) gets there. */
static void set_buf(int fd, int name, int force, int want) {
  if (want <= 0 || get_int(fd, name) == want) return;
  int half = want / 2;
  if (setsockopt(fd, SOL_SOCKET, force, &half, sizeof half) < 0) setsockopt(fd, SOL_SOCKET, name, &half, sizeof half);
}

void sock_opts_restore(int fd, const struct sock_opts *o) {
  set_buf(fd, SO_SNDBUF, SO_SNDBUFFORCE, o->sndbuf);
  set_buf(fd, SO_RCVBUF, SO_RCVBUFFORCE, o->rcvbuf);
  set_int(fd, SO_PASSCRED, o->passcred);
  set_int(fd, SO_KEEPALIVE, o->keepalive);
  set_int(fd, SO_REUSEADDR, o->reuseaddr);
  set_int(fd, SO_REUSEPORT, o->reuseport);
  set_int(fd, SO_RCVLOWAT, o->rcvlowat);
  set_int(fd, SO_PRIORITY, o->priority);
  /* -1 is "off" for the peek offset, and a valid value to set. */
  if (o->peek_off != get_int(fd, SO_PEEK_OFF)) setsockopt(fd, SOL_SOCKET, SO_PEEK_OFF, &o->peek_off, sizeof o->peek_off);
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &o->rcvtimeo, sizeof o->rcvtimeo);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &o->sndtimeo, sizeof o->sndtimeo);
}

