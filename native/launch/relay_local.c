/* The local side of the relay: in the job, in place of ssh, rsh or srun.
 * Listens where the remote side can reach it, starts the real client
 * outside the job (stasis_spawn_outside: no libstasis, never
 * checkpointed) with `stasis-relay --remote ...` as the command, and then
 * copies its stdin to the remote command's and the remote command's
 * stdout and stderr to its own, until the command ends; exits as the
 * client would have: the command's status, or the client's own failure
 * (ssh's 255 and its message, which the client printed on our stderr). */
#include "relay.h"
#include "../plugins/ssh/argv.h"
#include <arpa/inet.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

#define MAX_TASKS 256
struct task {
  int rank, fd[NROLES];
  int ended, code, sig;   /* reported on ctl */
};
static struct task tasks[MAX_TASKS];
static int ntasks;
static char id[33];

/* The numeric address toward the coordinator (where the job's hosts reach
 * us), or STASIS_RELAY_ADDR. */
static void local_address(char *out, size_t cap) {
  const char *given = getenv("STASIS_RELAY_ADDR");
  if (given && *given) { snprintf(out, cap, "%s", given); return; }
  snprintf(out, cap, "127.0.0.1");
  const char *coord = getenv("STASIS_COORD");
  if (!coord) return;
  char host[256];
  snprintf(host, sizeof host, "%s", coord);
  char *colon = strrchr(host, ':');
  if (!colon) return;
  *colon = 0;
  const char *port = colon + 1, *h = host;
  if (host[0] == '[') { h = host + 1; host[strlen(host) - 1] = 0; }
  struct addrinfo hints = { .ai_socktype = SOCK_DGRAM }, *ai;
  if (getaddrinfo(h, port, &hints, &ai)) return;
  int fd = socket(ai->ai_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  struct sockaddr_storage me;
  socklen_t len = sizeof me;
  if (fd >= 0 && connect(fd, ai->ai_addr, ai->ai_addrlen) == 0 && getsockname(fd, (void *)&me, &len) == 0)
    getnameinfo((void *)&me, len, out, (socklen_t)cap, NULL, 0, NI_NUMERICHOST);
  if (fd >= 0) close(fd);
  freeaddrinfo(ai);
}

static int listen_at(const char *addr, char *port, size_t cap) {
  struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICHOST | AI_PASSIVE }, *ai;
  if (getaddrinfo(addr, "0", &hints, &ai)) die(255, "cannot listen at %s", addr);
  int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);   /* take() accepts what is there */
  if (fd < 0 || bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, 64) < 0)
    die(255, "cannot listen at %s: %s", addr, strerror(errno));
  freeaddrinfo(ai);
  struct sockaddr_storage me;
  socklen_t len = sizeof me;
  getsockname(fd, (void *)&me, &len);
  getnameinfo((void *)&me, len, NULL, 0, port, (socklen_t)cap, NI_NUMERICSERV);
  return fd;
}

static void new_id(void) {
  unsigned char raw[16];
  int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
  if (fd < 0 || read_full(fd, raw, sizeof raw) < 0) die(255, "/dev/urandom: %s", strerror(errno));
  close(fd);
  for (int i = 0; i < 16; i++) sprintf(id + 2 * i, "%02x", raw[i]);
}

/* One word quoted for a POSIX shell. */
static char *quoted(const char *w) {
  size_t n = 3;
  for (const char *p = w; *p; p++) n += *p == '\'' ? 4 : 1;
  char *q = malloc(n), *o = q;
  *o++ = '\'';
  for (const char *p = w; *p; p++) {
    if (*p == '\'') { memcpy(o, "'\\''", 4); o += 4; } else *o++ = *p;
  }
  *o++ = '\'';
  *o = 0;
  return q;
}

/* The client's environment: ours without libstasis or the job's settings. */
static char **outside_env(void) {
  size_t n = 0;
  while (environ[n]) n++;
  char **env = calloc(n + 1, sizeof *env);
  size_t k = 0;
  for (size_t i = 0; i < n; i++)
    if (strncmp(environ[i], "STASIS_", 7) && strncmp(environ[i], "LD_PRELOAD=", 11)) env[k++] = environ[i];
  return env;
}

struct argvec { char **v; int n, cap; };
static void push(struct argvec *a, const char *w) {
  if (a->n + 2 > a->cap) { a->cap = a->cap ? 2 * a->cap : 32; a->v = realloc(a->v, (size_t)a->cap * sizeof *a->v); }
  a->v[a->n++] = (char *)w;
  a->v[a->n] = NULL;
}

static struct task *task_of(int rank) {
  for (int i = 0; i < ntasks; i++) if (tasks[i].rank == rank) return &tasks[i];
  if (ntasks == MAX_TASKS) return NULL;
  struct task *t = &tasks[ntasks++];
  t->rank = rank;
  for (int r = 0; r < NROLES; r++) t->fd[r] = -1;
  return t;
}

/* A new connection: its header says whose and which it is. */
static void take(int lfd, int stdin_null) {
  for (;;) {
    int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (fd < 0) return;
    int fl = fcntl(fd, F_GETFL);
    fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
    struct timeval five = { 5, 0 };
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &five, sizeof five);
    char header[HEADER_LEN + 1], their[64], role[16];
    int rank;
    if (read_full(fd, header, HEADER_LEN) < 0) { close(fd); continue; }
    header[HEADER_LEN] = 0;
    struct timeval none = { 0, 0 };
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &none, sizeof none);
    if (sscanf(header, "STASIS-RELAY %63s %d %15s", their, &rank, role) != 3 || strcmp(their, id)) { close(fd); continue; }
    struct task *t = task_of(rank);
    int r = 0;
    while (r < NROLES && strcmp(role_names[r], role)) r++;
    if (!t || r == NROLES || t->fd[r] >= 0) { close(fd); continue; }
    t->fd[r] = fd;
    /* Only task 0 reads our stdin (srun's default would be every task: see the user guide). */
    if (r == ROLE_IN && (stdin_null || rank != 0)) { close(fd); t->fd[r] = -2; }
  }
}

static int complete(const struct task *t) {
  for (int r = 0; r < NROLES; r++) if (t->fd[r] == -1) return 0;
  return 1;
}

/* Its output and its end are in: -2 is a connection taken and closed. */
static int finished(const struct task *t) {
  return t->fd[ROLE_OUT] == -2 && t->fd[ROLE_ERR] == -2 && t->fd[ROLE_CTL] == -2;
}

static void on_ctl(struct task *t) {
  char line[64];
  ssize_t n = read(t->fd[ROLE_CTL], line, sizeof line - 1);
  if (n < 0 && errno == EINTR) return;
  if (n > 0) {
    line[n] = 0;
    if (sscanf(line, "EXIT %d", &t->code) == 1) t->ended = 1;
    else if (sscanf(line, "SIGNAL %d", &t->sig) == 1) t->ended = 2;
    return;
  }
  close(t->fd[ROLE_CTL]);
  t->fd[ROLE_CTL] = -2;
  if (!t->ended) { t->ended = 1; t->code = 255; }
}

/* Copies what is there from `from` to `to`; 0 at EOF or a failure. */
static int pump(int from, int to) {
  char buf[65536];
  ssize_t n = read(from, buf, sizeof buf);
  if (n < 0 && errno == EINTR) return 1;
  if (n <= 0) return 0;
  return write_all(to, buf, (size_t)n) == 0 || to <= 2;   /* our stdout gone: the command's output is dropped, as ssh would */
}

typedef pid_t (*spawn_outside_fn)(const char *, const posix_spawn_file_actions_t *, const posix_spawnattr_t *, char *const[], char *const[]);

/* The client's stderr: a memfd we copy to our own stderr as it grows. Our
 * stderr itself may be a pipe from a process of the job (mpiexec.hydra
 * reads its proxies' stderr so): a pipe end held by a process outside the
 * job (the client) cannot be checkpointed, a file can. */
static int client_err = -1;
static off_t client_err_done;

static void copy_client_err(void) {
  char buf[4096];
  ssize_t n;
  while (client_err >= 0 && (n = pread(client_err, buf, sizeof buf, client_err_done)) > 0) {
    client_err_done += n;
    (void)write_all(2, buf, (size_t)n);
  }
}

static pid_t start_client(const char *client, char **argv) {
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
  copy_client_err();
  if (client_err >= 0) close(client_err);
  client_err = memfd_create("stasis-relay-client-stderr", MFD_CLOEXEC);
  client_err_done = 0;
  if (client_err >= 0) posix_spawn_file_actions_adddup2(&fa, client_err, 2);
  /* Nothing else of ours: a pipe of the job we inherited open (mpiexec.hydra
   * leaves its own open to its proxies' launchers) would be held outside it. */
  posix_spawn_file_actions_addclosefrom_np(&fa, 3);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t dfl;
  sigemptyset(&dfl);
  sigaddset(&dfl, SIGPIPE);
  posix_spawnattr_setsigdefault(&attr, &dfl);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGDEF);
  spawn_outside_fn outside = (spawn_outside_fn)dlsym(RTLD_DEFAULT, "stasis_spawn_outside");
  pid_t pid;
  if (outside) pid = outside(client, &fa, &attr, argv, outside_env());
  else if ((errno = posix_spawn(&pid, client, &fa, &attr, argv, outside_env()))) pid = -1;
  if (pid < 0) die(255, "cannot run %s: %s", client, strerror(errno));
  return pid;
}

/* The real client's argv: the options to keep, the destination, and the
 * remote side's command line (the coordinator's address and the id as
 * they are now: after a restart they are new). */
static char **client_argv(const char *client, char **cargv, int is_srun, const struct remote_parse *rp,
                          const struct srun_parse *sp, const char *addr, const char *port, const char *self) {
  const char *coord = getenv("STASIS_COORD"), *dir = getenv("STASIS_CKPT_DIR");
  if (!coord || !dir) die(255, "not in a job (no STASIS_COORD or STASIS_CKPT_DIR)");
  struct argvec a = { 0 };
  push(&a, cargv[0]);
  /* "t": under `stasis run` in a batch job (STASIS_HOLD_TERM) the scheduler's
   * SIGTERM reaches the other node's processes too; they hold it as ours do. */
  static char flags[3];
  snprintf(flags, sizeof flags, "%s%s", is_srun ? "w" : "d", getenv("STASIS_HOLD_TERM") ? "t" : "");
  const char *remote[] = { self, "--remote", addr, port, id, coord, dir, flags };
  if (is_srun) {
    for (int i = 1; i < sp->options_end; i++) push(&a, cargv[i]);
    for (size_t i = 0; i < sizeof remote / sizeof *remote; i++) push(&a, remote[i]);
    push(&a, "--argv");
    for (int i = sp->command; cargv[i]; i++) push(&a, cargv[i]);
  } else {
    int ssh = !strcmp(argv_basename(client), "ssh");
    for (int i = 0; i < rp->noptions; i++) push(&a, rp->options[i]);
    if (rp->user) { push(&a, "-l"); push(&a, rp->user); }
    if (rp->port) { push(&a, "-p"); push(&a, rp->port); }
    if (ssh) push(&a, "--");
    push(&a, rp->host);
    /* One string for the remote shell, as ssh makes of the command's words. */
    size_t len = 0;
    for (int i = rp->command; cargv[i]; i++) len += strlen(cargv[i]) + 1;
    char *command = calloc(len + 1, 1);
    for (int i = rp->command; cargv[i]; i++) { if (i > rp->command) strcat(command, " "); strcat(command, cargv[i]); }
    /* Checked first: a host without stasis-relay at this path answers NOT_HERE
     * (sh, bash, zsh, ksh, csh and fish all read this line). */
    char *self_q = quoted(self), *words[sizeof remote / sizeof *remote + 2];
    size_t rl = 64 + 2 * strlen(self_q);
    int nw = 0;
    for (size_t i = 0; i < sizeof remote / sizeof *remote; i++) rl += strlen(words[nw++] = quoted(remote[i])) + 1;
    rl += strlen(words[nw++] = quoted("--shell")) + 1;
    rl += strlen(words[nw++] = quoted(command)) + 1;
    char *line = calloc(rl, 1);
    sprintf(line, "test -x %s || exit %d; exec", self_q, NOT_HERE);
    for (int i = 0; i < nw; i++) { strcat(line, " "); strcat(line, words[i]); }
    push(&a, line);
  }
  return a.v;
}

int relay_local(int argc, char **argv) {
  if (argc < 2) die(255, "--local: no client");
  const char *client = argv[0];
  char **cargv = argv + 1;   /* the client's argv as the program gave it */
  int is_srun = !strcmp(argv_basename(client), "srun");
  static struct remote_parse rp;
  struct srun_parse sp;
  if (is_srun ? (srun_parse(cargv, &sp), sp.pass) : (remote_parse(client, cargv, &rp) < 0 || rp.pass)) {
    execv(client, cargv);   /* not ours after all: as given */
    die(255, "cannot run %s: %s", client, strerror(errno));
  }
  signal(SIGPIPE, SIG_IGN);
  char addr[256], port[16], self[PATH_MAX];
  local_address(addr, sizeof addr);
  int lfd = listen_at(addr, port, sizeof port);
  new_id();
  ssize_t sl = readlink("/proc/self/exe", self, sizeof self - 1);
  if (sl < 0) die(255, "/proc/self/exe: %s", strerror(errno));
  self[sl] = 0;
  int stdin_null = !is_srun && rp.stdin_null;
  pid_t pid = start_client(client, client_argv(client, cargv, is_srun, &rp, &sp, addr, port, self));
  int client_status = -1;   /* as a shell reports it; -1 while it runs or when unknown */
  for (;;) {
    if (pid > 0) {
      int st;
      pid_t r = waitpid(pid, &st, WNOHANG);
      if (r == pid) { client_status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st); pid = 0; }
      else if (r < 0 && errno == ECHILD) {   /* restored: the client was the old kernel's */
        pid = 0;
        /* Restored before the other side connected: log in again (ssh,
         * rsh; srun's step belonged to the old allocation). A new id: the
         * old login, if it goes on, is turned away. */
        if (ntasks == 0 && lfd >= 0 && !is_srun) {
          new_id();
          pid = start_client(client, client_argv(client, cargv, is_srun, &rp, &sp, addr, port, self));
        }
      }
    }
    copy_client_err();
    if (lfd >= 0) take(lfd, stdin_null);
    /* ssh: one task; once it is connected nobody else may. srun: until srun is done. */
    if (lfd >= 0 && ((!is_srun && ntasks && complete(&tasks[0])) || (is_srun && pid == 0))) { close(lfd); lfd = -1; }
    int all_done = ntasks > 0;
    for (int i = 0; i < ntasks; i++) all_done &= complete(&tasks[i]) && finished(&tasks[i]);
    if (pid == 0 && all_done) break;
    if (pid == 0 && ntasks == 0 && lfd < 0) break;
    if (pid == 0 && ntasks == 0) {   /* the client ended with nobody connected: its failure */
      struct pollfd p = { lfd, POLLIN, 0 };
      if (poll(&p, 1, 200) <= 0) break;
      continue;
    }
    struct pollfd p[1 + 1 + 3 * MAX_TASKS];
    struct task *who[1 + 1 + 3 * MAX_TASKS];
    int role[1 + 1 + 3 * MAX_TASKS], np = 0;
    if (lfd >= 0) { p[np] = (struct pollfd){ lfd, POLLIN, 0 }; who[np] = NULL; role[np++] = -1; }
    struct task *first = NULL;
    for (int i = 0; i < ntasks; i++) if (tasks[i].rank == 0) first = &tasks[i];
    if (first && first->fd[ROLE_IN] >= 0) { p[np] = (struct pollfd){ 0, POLLIN, 0 }; who[np] = first; role[np++] = ROLE_IN; }
    for (int i = 0; i < ntasks; i++)
      for (int r = ROLE_OUT; r < NROLES; r++)
        if (tasks[i].fd[r] >= 0) { p[np] = (struct pollfd){ tasks[i].fd[r], POLLIN, 0 }; who[np] = &tasks[i]; role[np++] = r; }
    if (poll(p, (nfds_t)np, pid > 0 ? 100 : 1000) <= 0) continue;
    for (int i = 0; i < np; i++) {
      if (!p[i].revents || role[i] < 0) continue;
      struct task *t = who[i];
      if (role[i] == ROLE_CTL) { on_ctl(t); continue; }
      int from = role[i] == ROLE_IN ? 0 : t->fd[role[i]];
      int to = role[i] == ROLE_IN ? t->fd[ROLE_IN] : role[i] == ROLE_OUT ? 1 : 2;
      if (!pump(from, to)) { close(t->fd[role[i]]); t->fd[role[i]] = -2; }
    }
  }
  copy_client_err();
  if (ntasks == 0 && client_status == NOT_HERE) {
    /* The other side cannot join the job: the client as given, as before the relay. */
    if (getenv("STASIS_DEBUG")) fprintf(stderr, "stasis-relay: %s runs without the relay (the other side cannot join the job)\n", argv_basename(client));
    close(lfd);
    setenv("STASIS_RELAY", "off", 1);
    execv(client, cargv);
    die(255, "cannot run %s: %s", client, strerror(errno));
  }
  if (ntasks == 0) {
    if (client_status > 0) return client_status;
    die(255, "%s ended without running the command", argv_basename(client));
  }
  int status = 0;
  for (int i = 0; i < ntasks; i++) {
    int s = tasks[i].ended == 2 ? (is_srun ? 128 + tasks[i].sig : 255) : tasks[i].code;
    if (is_srun ? s > status : tasks[i].rank == 0) status = s;
  }
  if (is_srun && client_status > status) status = client_status;
  return status;
}
