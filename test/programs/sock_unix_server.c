/* A UNIX stream server in the job (argv[1]: a path, or @NAME for an
 * abstract name) and its clients, in a forked child:
 *  a long-lived client connection that sends "L N\n" every tick and wants
 *  it echoed (connected across every checkpoint: "long N" every 10 ticks),
 *  and every 5 ticks a new connection for one "S N\n" ("client N ok"; a
 *  request cut by a restart — its server end was still in the listen
 *  queue — is sent again on a new connection: "client N retried").
 * The server echoes whatever it reads on any connection. A wrong echo
 * prints BROKEN; the server prints "tick N conns=K" every 100 ms. */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static struct sockaddr_un addr = { .sun_family = AF_UNIX };
static socklen_t addr_len;

static void sleep_ms(int ms) {
  struct timespec ts = { 0, ms * 1000000L };
  while (nanosleep(&ts, &ts) < 0 && errno == EINTR) {}
}

static void broken(const char *what, long n) {
  usleep(500000);   /* the job being killed: a peer died first, and this process dies here */
  printf("BROKEN %s %ld\n", what, n);
  fflush(stdout);
  exit(3);
}

/* One line out and back on fd; 0, or -1 when the connection ended. */
static int exchange(int fd, const char *tag, long n) {
  char msg[48], got[48];
  int len = snprintf(msg, sizeof msg, "%s %ld\n", tag, n), have = 0;
  if (send(fd, msg, (size_t)len, MSG_NOSIGNAL) != len) return -1;
  while (have < len) {
    ssize_t r = recv(fd, got + have, (size_t)(len - have), 0);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return -1;
    have += (int)r;
  }
  if (memcmp(got, msg, (size_t)len) != 0) broken("wrong echo for", n);
  return 0;
}

static int connect_server(void) {
  int fd = socket(AF_UNIX, SOCK_STREAM, 0);
  if (fd < 0 || connect(fd, (struct sockaddr *)&addr, addr_len) < 0) broken("cannot connect, errno", errno);
  return fd;
}

static void client(void) {
  int lfd = connect_server();
  long shorts = 0;
  for (long n = 1;; n++) {
    if (exchange(lfd, "L", n) < 0) broken("the long connection ended at", n);
    if (n % 10 == 0) printf("long %ld\n", n);
    if (n % 5 == 0) {
      shorts++;
      for (;;) {
        int s = connect_server();
        int rc = exchange(s, "S", shorts);
        close(s);
        if (rc == 0) break;
        printf("client %ld retried\n", shorts);
      }
      printf("client %ld ok\n", shorts);
    }
    sleep_ms(100);
  }
}

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  signal(SIGPIPE, SIG_IGN);
  const char *name = argc > 1 ? argv[1] : "/tmp/stasis-unix-server.sock";
  size_t n = strlen(name);
  if (name[0] == '@') { memcpy(addr.sun_path + 1, name + 1, n - 1); addr_len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n); }
  else { memcpy(addr.sun_path, name, n); addr_len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + 1); unlink(name); }
  int l = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);
  if (l < 0 || bind(l, (struct sockaddr *)&addr, addr_len) < 0 || listen(l, 8) < 0) { perror("listen"); return 1; }
  if (fork() == 0) { close(l); client(); }
  struct pollfd p[64];
  int np = 1;
  p[0] = (struct pollfd){ l, POLLIN, 0 };
  for (long tick = 0;; tick++) {
    for (double left = 100; left > 0; left -= 10) {
      if (poll(p, (nfds_t)np, 10) <= 0) continue;
      if (p[0].revents & POLLIN) {
        int c;
        while ((c = accept(l, NULL, NULL)) >= 0 && np < 64) p[np++] = (struct pollfd){ c, POLLIN, 0 };
      }
      for (int i = 1; i < np; i++) {
        if (!(p[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
        char buf[256];
        ssize_t r = recv(p[i].fd, buf, sizeof buf, MSG_DONTWAIT);
        if (r > 0 && send(p[i].fd, buf, (size_t)r, MSG_NOSIGNAL) == r) continue;
        if (r < 0 && errno == EAGAIN) continue;
        close(p[i].fd);
        p[i--] = p[--np];
      }
    }
    printf("tick %ld conns=%d\n", tick, np - 1);
  }
}
