/* Holds a descriptor stasis cannot save yet, and keeps counting:
 *   unsupported pipe      the read end of a pipe whose write end is held by
 *                         a process outside the job (a plain `sleep`, not
 *                         our child; the test kills it by the pid printed)
 *   unsupported io_uring  an io_uring instance
 *   unsupported udplite   a UDP-Lite socket bound on 127.0.0.1
 *   unsupported scm_rights  a socketpair with a descriptor in flight (SCM_RIGHTS, not yet received)
 *   unsupported none      nothing (the test traces it from outside)
 * A checkpoint must fail naming the descriptor; "tick N" goes on. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <linux/io_uring.h>

#include "outsider.h"

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  const char *mode = argc > 1 ? argv[1] : "pipe";
  if (strcmp(mode, "pipe") == 0) {
    int p[2];
    if (pipe(p) < 0) { perror("pipe"); return 1; }
    fcntl(p[0], F_SETFD, FD_CLOEXEC);
    pid_t child = start_outsider();
    close(p[1]);
    printf("holding fd %d, a pipe to process %d\n", p[0], (int)child);
  } else if (strcmp(mode, "io_uring") == 0) {
    struct io_uring_params params;
    memset(&params, 0, sizeof params);
    long fd = syscall(SYS_io_uring_setup, 4, &params);
    if (fd < 0) { printf("no io_uring: %s\n", strerror(errno)); return 2; }
    printf("holding fd %ld, an io_uring\n", fd);
  } else if (strcmp(mode, "udplite") == 0) {
    int fd = socket(AF_INET, SOCK_DGRAM, IPPROTO_UDPLITE);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) < 0) { perror("udplite"); return 1; }
    printf("holding fd %d, a UDP-Lite socket\n", fd);
  } else if (strcmp(mode, "scm_rights") == 0) {
    int sv[2], passed = dup(1);
    char byte = 'x', control[CMSG_SPACE(sizeof(int))];
    struct iovec iov = { &byte, 1 };
    struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control, .msg_controllen = sizeof control };
    struct cmsghdr *c = CMSG_FIRSTHDR(&m);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(c), &passed, sizeof passed);
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0 || sendmsg(sv[0], &m, 0) != 1) { perror("scm_rights"); return 1; }
    close(passed);
    printf("holding fd %d, a socket with a descriptor in flight\n", sv[1]);
  }
  for (long tick = 0;; tick++) {
    printf("tick %ld\n", tick);
    struct timespec ts = { 0, 100000000 };
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR) {}
  }
}
