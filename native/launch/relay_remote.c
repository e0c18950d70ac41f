/* The remote side of the relay.
 *
 * --remote ADDR PORT ID COORD CKPT-DIR FLAGS (--shell COMMAND | --argv WORD...)
 *   Started by the real ssh/rsh/srun, outside the job (nothing secret on
 *   its command line). Reads the job's token from CKPT-DIR/token, opens
 *   the four connections back to the local relay at ADDR:PORT, and starts
 *   `--inside` with them, in the job (libstasis preloaded, joined to the
 *   coordinator at COORD). FLAGS "w": wait for it and exit with its status
 *   (srun: the step lasts as long as its task); otherwise return at once
 *   (ssh: the login ends, the relayed command goes on in its own session);
 *   FLAGS "t": the job holds the scheduler's SIGTERM (STASIS_HOLD_TERM) until
 *   it is checkpointed, on this node too, and so does this waiting side.
 *   A failure before that exits 255 with a message, as ssh does; when
 *   this host cannot join the job at all (no CKPT-DIR/token here: the
 *   directory is not shared; the local side unreachable from here), it
 *   exits NOT_HERE without a word and the local side runs the client as
 *   given instead.
 *
 * --inside (--shell COMMAND | --argv WORD...)
 *   In the job, fds 0-2 the in/out/err connections and 3 the control one:
 *   runs `$SHELL -c COMMAND` (or the words) with the connections as its
 *   stdio, waits for it and reports how it ended on the control one. */
#include "relay.h"
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

static int connect_back(const char *addr, const char *port, const char *id, const char *rank, enum role role) {
  struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV }, *ai;
  int rc = getaddrinfo(addr, port, &hints, &ai);
  if (rc) die(255, "cannot use %s:%s: %s", addr, port, gai_strerror(rc));
  int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0 || connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
    /* Not even the first: the job is out of reach from here (its
     * coordinator and relay on loopback, say), the client runs as given. */
    if (role == ROLE_IN) exit(NOT_HERE);
    die(255, "cannot connect back to %s:%s: %s", addr, port, strerror(errno));
  }
  freeaddrinfo(ai);
  char header[HEADER_LEN + 1];
  memset(header, ' ', HEADER_LEN);
  int n = snprintf(header, sizeof header, "STASIS-RELAY %.32s %.8s %s", id, rank, role_names[role]);
  if (n < HEADER_LEN) header[n] = ' ';   /* padded with spaces, no NUL sent */
  if (write_all(fd, header, HEADER_LEN) < 0) die(255, "cannot write to %s:%s: %s", addr, port, strerror(errno));
  return fd;
}

static void read_token(const char *dir, char *token, size_t cap) {
  char path[PATH_MAX];
  snprintf(path, sizeof path, "%s/token", dir);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) exit(NOT_HERE);
  ssize_t n = read(fd, token, cap - 1);
  close(fd);
  if (n <= 0) die(255, "%s is empty", path);
  token[n] = 0;
  token[strcspn(token, "\r\n")] = 0;
}

/* The environment of the part in the job: ours without any stasis
 * setting, then libstasis (beside this program) and the job's. */
static char **inside_env(const char *self_dir, const char *coord, const char *dir, const char *token, int hold_term) {
  size_t n = 0;
  while (environ[n]) n++;
  char **env = calloc(n + 6, sizeof *env);
  size_t k = 0;
  for (size_t i = 0; i < n; i++)
    if (strncmp(environ[i], "STASIS_", 7) && strncmp(environ[i], "LD_PRELOAD=", 11)) env[k++] = environ[i];
  if (asprintf(&env[k++], "LD_PRELOAD=%s/libstasis.so", self_dir) < 0 ||
      asprintf(&env[k++], "STASIS_COORD=%s", coord) < 0 ||
      asprintf(&env[k++], "STASIS_CKPT_DIR=%s", dir) < 0 ||
      asprintf(&env[k++], "STASIS_TOKEN=%s", token) < 0) die(255, "out of memory");
  if (hold_term) env[k++] = "STASIS_HOLD_TERM=1";
  env[k] = NULL;
  return env;
}

int relay_remote(int argc, char **argv) {
  if (argc < 8) die(255, "--remote: too few arguments");
  const char *addr = argv[0], *port = argv[1], *id = argv[2], *coord = argv[3], *dir = argv[4], *flags = argv[5];
  const char *rank = getenv("SLURM_PROCID");
  if (!rank || !*rank) rank = "0";
  char token[256], self[PATH_MAX];
  read_token(dir, token, sizeof token);
  ssize_t sl = readlink("/proc/self/exe", self, sizeof self - 1);
  if (sl < 0) die(255, "/proc/self/exe: %s", strerror(errno));
  self[sl] = 0;
  char self_dir[PATH_MAX];
  memcpy(self_dir, self, (size_t)sl + 1);
  *strrchr(self_dir, '/') = 0;
  int fds[NROLES];
  for (int r = 0; r < NROLES; r++) fds[r] = connect_back(addr, port, id, rank, (enum role)r);
  int hold_term = strchr(flags, 't') != NULL;
  char **env = inside_env(self_dir, coord, dir, token, hold_term);
  int wait_for_it = strchr(flags, 'w') != NULL;
  pid_t pid = fork();
  if (pid < 0) die(255, "fork: %s", strerror(errno));
  if (pid == 0) {
    if (!wait_for_it) setsid();
    for (int r = 0; r < NROLES; r++) {
      int moved = fcntl(fds[r], F_DUPFD_CLOEXEC, 10);
      close(fds[r]);
      fds[r] = moved;
    }
    for (int r = 0; r < NROLES; r++) dup2(fds[r], r);   /* without close-on-exec */
    /* The suspend signal ignored until libstasis has its handler (as stasis-launch does). */
    const char *sig = getenv("STASIS_SIGNAL");
    signal(sig ? atoi(sig) : SIGRTMAX - 2, SIG_IGN);
    char **av = calloc((size_t)argc, sizeof *av);
    av[0] = "stasis-relay";
    av[1] = "--inside";
    for (int i = 6; i < argc; i++) av[i - 4] = argv[i];
    execve(self, av, env);
    dprintf(3, "EXIT 255\n");
    die(255, "cannot run %s: %s", self, strerror(errno));
  }
  for (int r = 0; r < NROLES; r++) close(fds[r]);
  if (!wait_for_it) return 0;
  /* Here, not before the fork: the command must not inherit SIG_IGN. If we
   * ended, the step would take the job's processes on this node with it. */
  if (hold_term) signal(SIGTERM, SIG_IGN);
  int status;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

int relay_inside(int argc, char **argv) {
  fcntl(3, F_SETFD, FD_CLOEXEC);
  signal(SIGPIPE, SIG_IGN);
  if (argc < 2) { dprintf(3, "EXIT 255\n"); die(255, "--inside: nothing to run"); }
  pid_t pid = fork();
  if (pid < 0) { dprintf(3, "EXIT 255\n"); die(255, "fork: %s", strerror(errno)); }
  if (pid == 0) {
    signal(SIGPIPE, SIG_DFL);
    if (!strcmp(argv[0], "--shell")) {
      const char *shell = getenv("SHELL");
      if (!shell || !*shell) shell = "/bin/sh";
      execl(shell, shell, "-c", argv[1], (char *)NULL);
      die(127, "%s: %s", shell, strerror(errno));
    }
    execvp(argv[1], argv + 1);
    die(errno == ENOENT ? 127 : 126, "%s: %s", argv[1], strerror(errno));
  }
  /* Only the command holds its stdio now: EOF reaches the other side when it ends. */
  int null = open("/dev/null", O_RDWR);
  for (int fd = 0; fd < 3; fd++) dup2(null, fd);
  if (null > 2) close(null);
  int status;
  while (waitpid(pid, &status, 0) < 0)
    if (errno != EINTR) { dprintf(3, "EXIT 255\n"); return 255; }
  if (WIFEXITED(status)) dprintf(3, "EXIT %d\n", WEXITSTATUS(status));
  else dprintf(3, "SIGNAL %d\n", WTERMSIG(status));
  return 0;
}
