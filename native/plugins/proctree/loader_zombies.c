/* Children that were zombies at the checkpoint (plugins/proctree/zombies.c
 * wrote IMAGE.zombies: "zombie VPID CODE STATUS\n" each). The loader forks
 * them again for the process it becomes, each ending at once with its old
 * status (exit status, or killed by its signal — without a core dump), and
 * waits until each is a zombie again, without reaping it. Their pids go to
 * the restored process as restart_info.children ("VPID=PID ..."), where the
 * pid plugin maps them. */
#include "../../restart/side.h"
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

/* The records of one image's file; 0 when there is none, -1 when damaged. */
static int parse(const char *image, int (*each)(long vpid, int code, int status, void *ctx), void *ctx) {
  char *buf;
  size_t len;
  if (side_file_read(image, "zombies", &buf, &len) < 0) return -1;
  int rc = 0;
  for (char *line = buf, *nl; rc == 0 && line && *line; line = nl ? nl + 1 : NULL) {
    nl = strchr(line, '\n');
    long vpid;
    int code, status, used = 0;
    if (!nl || sscanf(line, "zombie %ld %d %d%n", &vpid, &code, &status, &used) != 3 || line + used != nl || vpid <= 0) {
      fprintf(stderr, "stasis-restart: %s.zombies: malformed line\n", image);
      rc = -1;
    } else {
      rc = each(vpid, code, status, ctx);
    }
  }
  free(buf);
  return rc;
}

static int ok(long vpid, int code, int status, void *ctx) {
  (void)vpid; (void)code; (void)status; (void)ctx;
  return 0;
}

int zombies_check(int count, const char *const *images) {
  for (int i = 0; i < count; i++)
    if (parse(images[i], ok, NULL) < 0) return -1;
  return 0;
}

struct out { char *buf; size_t cap; };

static int remake(long vpid, int code, int status, void *ctx) {
  struct out *o = ctx;
  pid_t pid = fork();
  if (pid < 0) { fprintf(stderr, "stasis-restart: fork: %s\n", strerror(errno)); return -1; }
  if (pid == 0) {
    if (code == CLD_EXITED) _exit(status);
    struct rlimit none = { 0, 0 };
    setrlimit(RLIMIT_CORE, &none);
    signal(status, SIG_DFL);
    sigset_t one;
    sigemptyset(&one);
    sigaddset(&one, status);
    sigprocmask(SIG_UNBLOCK, &one, NULL);
    kill(getpid(), status);
    _exit(128 + status);   /* a signal that does not kill */
  }
  siginfo_t si;
  while (waitid(P_PID, pid, &si, WEXITED | WNOWAIT) < 0 && errno == EINTR) {}
  size_t used = strlen(o->buf);
  if (snprintf(o->buf + used, o->cap - used, "%s%ld=%d", used ? " " : "", vpid, (int)pid) >= (int)(o->cap - used)) {
    fprintf(stderr, "stasis-restart: too many children not waited for\n");
    return -1;
  }
  return 0;
}

int zombies_make(const char *image, char *out, size_t cap) {
  out[0] = 0;
  signal(SIGCHLD, SIG_DFL);   /* ignored, the kernel would reap them at once */
  struct out o = { out, cap };
  return parse(image, remake, &o);
}
