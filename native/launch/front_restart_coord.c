/* The private coordinator of a fast restart, as src/coordinator/spawn.ts
 * starts it: a listening socket bound here and handed over, Node started
 * detached (not our child: this process becomes the restored program), its
 * address and token published in the store. */
#include "front.h"
#include "front_restart.h"
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

/* s as a JSON string (JSON.stringify's escapes); -1 if it does not fit. */
static int json_string(char *out, size_t cap, const char *s) {
  size_t o = 0;
  const unsigned char *c = (const unsigned char *)s;
  out[o++] = '"';
  for (; *c && o + 8 < cap; c++) {
    const char *esc = *c == '"' ? "\\\"" : *c == '\\' ? "\\\\" : *c == '\n' ? "\\n" : *c == '\r' ? "\\r" : *c == '\t' ? "\\t"
                    : *c == '\b' ? "\\b" : *c == '\f' ? "\\f" : NULL;
    if (esc) o += (size_t)snprintf(out + o, cap - o, "%s", esc);
    else if (*c < 0x20) o += (size_t)snprintf(out + o, cap - o, "\\u%04x", *c);
    else out[o++] = (char)*c;
  }
  out[o++] = '"';
  out[o] = 0;
  return *c ? -1 : 0;
}

/* publish(): written whole under a temporary name, then renamed. */
static int write_atomic(const char *path, const char *data) {
  char tmp[PATH_MAX + 32];
  snprintf(tmp, sizeof tmp, "%s.%d.tmp", path, (int)getpid());
  int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return -1;
  size_t len = strlen(data);
  int ok = write(fd, data, len) == (ssize_t)len;
  close(fd);
  if (!ok || rename(tmp, path) < 0) { unlink(tmp); return -1; }
  return 0;
}

/* Where execlp would find node: 0, or ENOENT. */
static int find_node(char *out, size_t cap) {
  const char *path = getenv("PATH");
  if (!path || !*path) path = "/bin:/usr/bin";   /* glibc's default */
  for (const char *p = path;; p++) {
    size_t len = strcspn(p, ":");
    struct stat st;
    /* An empty entry is the current directory, as for execlp. */
    if ((size_t)snprintf(out, cap, "%.*s%snode", (int)len, p, len ? "/" : "") < cap && stat(out, &st) == 0 && S_ISREG(st.st_mode) &&
        access(out, X_OK) == 0)
      return 0;
    p += len;
    if (!*p) return ENOENT;
  }
}

/* The grandchild: a new session, default signals, the descriptors Node's
 * spawn would leave; waits for the front's word, then becomes Node. */
static _Noreturn void coordinator_child(const char *main_js, const char *opts, const char *token, size_t expect, int log, int sock,
                                        int err_w, int go_r) {
  setsid();
  /* As Node's spawn leaves a child: default dispositions (a shell's `&` ignores SIGINT), nothing blocked. */
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, NULL);
  for (int sig = 1; sig < NSIG; sig++) signal(sig, SIG_DFL);
  /* stdin, stdout: nothing; stderr: coordinator.log; 3: the socket; 4: the job's stderr;
   * 5: why Node did not start, until exec closes it; 6: the front's word. Nothing else. */
  int null = open("/dev/null", O_RDWR | O_CLOEXEC);
  int from[7] = { null, null, log, sock, 2, err_w, go_r };
  for (int i = 0; i < 7; i++) from[i] = fcntl(from[i], F_DUPFD_CLOEXEC, 10);
  for (int i = 0; i < 7; i++) dup2(from[i], i);
  fcntl(5, F_SETFD, FD_CLOEXEC);
  fcntl(6, F_SETFD, FD_CLOEXEC);
  close_range(7, ~0U, 0);
  setenv("STASIS_COORD_TOKEN", token, 1);
  char node[PATH_MAX];
  int err = find_node(node, sizeof node);
  /* Alone, the restored process runs before it needs us and joins once
   * its memory is back (core/checkpoint.c): Node starts at the first
   * connection (or after 3 s), not beside the program's first moments. */
  if (!err && expect == 1) close(5);
  /* A byte once the generation verified; nothing (the front gave up, or
   * handed the restart to Node, which starts its own) and we are not needed. */
  char go;
  if (!err && read(6, &go, 1) != 1) _exit(0);
  close(6);
  if (!err && expect == 1) {
    struct pollfd first = { .fd = 3, .events = POLLIN };
    poll(&first, 1, 3000);
  }
  if (!err) execl(node, "node", main_js, opts, (char *)NULL);
  err = err ? err : errno;
  ssize_t w = write(5, &err, sizeof err);
  (void)w;
  _exit(127);
}

/* The middle child, which only forks: reaped before the restart goes to Node
 * (the grandchild ends itself once this process has become Node). */
static pid_t spawned;
static void reap_spawned(void) {
  while (waitpid(spawned, NULL, 0) < 0 && errno == EINTR) {}
}

/* The private coordinator (spawn.ts startPrivateCoordinator): a listening
 * socket bound here and handed over, Node started detached (not our child:
 * we become the program). Forked before the generation is verified, so
 * that the forks (dear on a VM with shadow page tables) are not waited for
 * after it; it becomes Node on coordinator_go. */
void coordinator_spawn(struct pending_coordinator *c, const char *store, const char *gen_dir, const struct settings *s, size_t expect) {
  int sock = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
  socklen_t al = sizeof a;
  if (sock < 0 || bind(sock, (struct sockaddr *)&a, sizeof a) < 0 || listen(sock, 511) < 0
      || getsockname(sock, (struct sockaddr *)&a, &al) < 0)
    to_node("cannot listen (Node says why)");
  c->port = ntohs(a.sin_port);
  unsigned char raw[32];
  if (getrandom(raw, sizeof raw, 0) != (ssize_t)sizeof raw) to_node("no random bytes for the token");
  for (int i = 0; i < 32; i++) sprintf(c->token + 2 * i, "%02x", raw[i]);
  static char opts[5 * PATH_MAX], dir_js[2 * PATH_MAX], gen_js[2 * PATH_MAX];
  if (json_string(dir_js, sizeof dir_js, store) < 0 || json_string(gen_js, sizeof gen_js, gen_dir) < 0) to_node("a path too long");
  snprintf(opts, sizeof opts, "{\"ckptDir\":%s,\"host\":\"127.0.0.1\",\"port\":0,\"interval\":%lld,\"keep\":%lld,\"expect\":%zu,"
           "\"private\":true,\"ownerPid\":%d,\"listenFd\":3,\"timeout\":300,\"alertFd\":4,\"restoreFrom\":%s}",
           dir_js, s->interval, s->keep, expect, (int)getpid(), gen_js);
  char *main_js = join_path(exe_dir(), "../../dist/src/coordinator/private-main.js");
  char *log_path = join_path(store, "coordinator.log");
  int log = log_path ? open(log_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600) : -1;
  int pids[2], errs[2], go[2];
  /* go: a socket, so that saying the word to a grandchild that is gone is EPIPE, not SIGPIPE. */
  if (!main_js || log < 0 || pipe2(pids, O_CLOEXEC) < 0 || pipe2(errs, O_CLOEXEC) < 0 || socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, go) < 0)
    to_node("cannot prepare the coordinator (Node says why)");
  pid_t child = fork();
  if (child < 0) to_node("cannot fork");
  if (child == 0) {
    pid_t grandchild = fork();
    if (grandchild == 0) coordinator_child(main_js, opts, c->token, expect, log, sock, errs[1], go[0]);
    ssize_t w = write(pids[1], &grandchild, sizeof grandchild);
    _exit(grandchild > 0 && w == (ssize_t)sizeof grandchild ? 0 : 1);
  }
  close(pids[1]);
  close(errs[1]);
  close(go[0]);
  close(log);
  close(sock);
  free(main_js);
  free(log_path);
  c->child = child;
  spawned = child;
  before_node = reap_spawned;
  c->pid_r = pids[0];
  c->err_r = errs[0];
  c->go_w = go[1];
}

/* The word to become Node, then its pid (or one line and exit 1), published in D. */
pid_t coordinator_go(struct pending_coordinator *c, const char *store) {
  pid_t pid = -1;
  int err = 0, status;
  ssize_t got = read(c->pid_r, &pid, sizeof pid);
  while (waitpid(c->child, &status, 0) < 0 && errno == EINTR) {}
  before_node = NULL;
  ssize_t said = got == (ssize_t)sizeof pid ? send(c->go_w, "g", 1, MSG_NOSIGNAL) : 0;
  close(c->go_w);
  /* The grandchild's exec closes errs: nothing read means Node runs (or, alone, that it was found). */
  ssize_t failed = got == (ssize_t)sizeof pid ? read(c->err_r, &err, sizeof err) : 0;
  close(c->pid_r);
  close(c->err_r);
  if (got != (ssize_t)sizeof pid || pid <= 0 || said != 1 || failed > 0) {
    fprintf(stderr, "stasis: cannot start the coordinator: %s\n", failed > 0 ? strerror(err) : "fork failed");
    exit(1);
  }
  struct utsname u;
  uname(&u);
  static char info[PATH_MAX], node_js[600], tok[80];
  if (json_string(node_js, sizeof node_js, u.nodename) < 0) node_js[0] = 0;
  snprintf(info, sizeof info, "{\"host\":\"127.0.0.1\",\"port\":%d,\"pid\":%d,\"private\":true,\"node\":%s}\n", c->port, (int)pid, node_js);
  snprintf(tok, sizeof tok, "%s\n", c->token);
  char *tf = join_path(store, "token"), *cf = join_path(store, "coordinator.json");
  if (!tf || !cf || write_atomic(tf, tok) < 0 || write_atomic(cf, info) < 0) {
    fprintf(stderr, "stasis: cannot publish the coordinator in %s: %s\n", store, strerror(errno));
    kill(pid, SIGTERM);
    exit(1);
  }
  free(tf);
  free(cf);
  return pid;
}
