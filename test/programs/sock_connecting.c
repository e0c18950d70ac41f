/* A TCP socket still connecting (SYN_SENT) for seconds:
 *   sock_connecting          to a listener of its own (127.0.0.1, backlog 0)
 *                            whose queue a first connection fills; the
 *                            listener accepts from tick 40 on;
 *   sock_connecting PORT     to a server outside the job on 127.0.0.1 PORT
 *                            (whose queue is full until the test says).
 * The connecting socket is non-blocking; once poll() says it is writable
 * and SO_ERROR is 0 the program sends "C" and wants "ok\n" back (its own
 * listener answers "ok\n" to a connection that sends "C"), then prints
 * "connected at tick N" and "echo N" every 10 ticks over the connection.
 * A connection refused or reset prints BROKEN. "tick N" every 100 ms. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static void broken(const char *what, int err) {
  usleep(500000);   /* the job being killed: this process dies here */
  printf("BROKEN %s: %s\n", what, strerror(err));
  exit(1);
}

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  struct sockaddr_in to = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
  socklen_t len = sizeof to;
  int l = -1, filler = -1;
  if (argc > 1) to.sin_port = htons((unsigned short)atoi(argv[1]));
  else {
    l = socket(AF_INET, SOCK_STREAM, 0);
    if (l < 0 || bind(l, (struct sockaddr *)&to, len) < 0 || listen(l, 0) < 0) { perror("listen"); return 1; }
    getsockname(l, (struct sockaddr *)&to, &len);
    filler = socket(AF_INET, SOCK_STREAM, 0);   /* fills the queue: the next SYN is dropped */
    if (connect(filler, (struct sockaddr *)&to, len) < 0) { perror("filler"); return 1; }
    if (write(filler, "F", 1) != 1) return 1;
  }
  int c = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  if (connect(c, (struct sockaddr *)&to, len) == 0 || errno != EINPROGRESS) { perror("connect did not stay in progress"); return 1; }
  printf("connecting to port %d\n", ntohs(to.sin_port));
  int connected = 0, server_side = -1, pending[8], npending = 0;
  if (l >= 0) fcntl(l, F_SETFL, O_NONBLOCK);
  char reply[8];
  size_t got = 0;
  for (long tick = 0;; tick++) {
    if (l >= 0 && tick >= 40) {   /* the listener serves: "C" gets "ok\n"; the filler is let go */
      for (int s; npending < 8 && (s = accept4(l, NULL, NULL, SOCK_NONBLOCK)) >= 0;) pending[npending++] = s;
      for (int k = 0; k < npending; k++) {
        char id = 0;
        ssize_t r = read(pending[k], &id, 1);
        if (r < 0 && errno == EAGAIN) continue;
        if (r == 1 && id == 'C') {
          if (write(pending[k], "ok\n", 3) != 3) broken("answering", errno);
          server_side = pending[k];
          fcntl(server_side, F_SETFL, 0);
        } else close(pending[k]);
        pending[k--] = pending[--npending];
      }
    }
    if (!connected) {
      struct pollfd p = { c, POLLOUT, 0 };
      if (poll(&p, 1, 0) == 1) {
        int err = 0;
        socklen_t n = sizeof err;
        getsockopt(c, SOL_SOCKET, SO_ERROR, &err, &n);
        if (err) broken("connect", err);
        if (send(c, "C", 1, MSG_NOSIGNAL) != 1) broken("send", errno);
        connected = 1;
      }
    } else if (got < 3) {
      ssize_t r = recv(c, reply + got, 3 - got, MSG_DONTWAIT);
      if (r == 0) broken("reply", ECONNRESET);
      if (r < 0 && errno != EAGAIN) broken("reply", errno);
      if (r > 0 && (got += (size_t)r) == 3) {
        if (memcmp(reply, "ok\n", 3) != 0) broken("reply not ok", EPROTO);
        printf("connected at tick %ld\n", tick);
      }
    } else if (tick % 10 == 0) {   /* the connection carries on */
      long v = tick, back = 0;
      if (send(c, &v, sizeof v, MSG_NOSIGNAL) != sizeof v) broken("echo send", errno);
      if (server_side >= 0) {
        struct pollfd p = { server_side, POLLIN, 0 };
        poll(&p, 1, 2000);
        if (read(server_side, &back, sizeof back) != sizeof back) broken("echo read", errno);
        if (write(server_side, &back, sizeof back) != sizeof back) broken("echo write", errno);
      }
      struct pollfd p = { c, POLLIN, 0 };
      poll(&p, 1, 2000);
      if (recv(c, &back, sizeof back, 0) != sizeof back || back != v) broken("echo", errno ? errno : EPROTO);
      printf("echo %ld\n", tick);
    }
    printf("tick %ld\n", tick);
    struct timespec ts = { 0, 100000000 };
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR) {}
  }
  (void)filler;
}
