/* `stasis launch` without Node, when the coordinator it joins is there
 * already: --coord H:P (or STASIS_COORD) with a token, or the live
 * coordinator of --ckpt-dir. Does what src/cli/launch.ts does then, and
 * what the execve addon and stasis-launch do after it, in this process:
 * records the inherited descriptors (STASIS_INHERITED), preloads libstasis
 * and execs the program. Everything else goes to Node: no live coordinator
 * (a private one is started), --with-plugin, an MPI launcher (its
 * transports are set), a program libstasis cannot reach or that does not
 * exist (the error), any option spelled otherwise than below. */
#include "anchors.h"
#include "front.h"
#include "preload.h"
#include <dirent.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

extern char **environ;

#define MAX_SAFE 9007199254740991LL

/* The file exec would run for name (reach.ts resolveProgram), or NULL. */
static char *resolve_program(const char *name) {
  struct stat st;
  if (strchr(name, '/'))
    return stat(name, &st) == 0 && S_ISREG(st.st_mode) && access(name, X_OK) == 0 ? strdup(name) : NULL;
  const char *path = getenv("PATH");
  if (!path) path = "/bin:/usr/bin";
  for (const char *d = path;; d++) {
    const char *e = strchrnul(d, ':');
    char f[PATH_MAX];
    if (snprintf(f, sizeof f, "%.*s/%s", e == d ? 1 : (int)(e - d), e == d ? "." : d, name) < (int)sizeof f
        && stat(f, &st) == 0 && S_ISREG(st.st_mode) && access(f, X_OK) == 0)
      return strdup(f);
    if (!*e) return NULL;
    d = e;
  }
}

/* libstasis can be preloaded into file, following #! (reach.ts unreachable() is null). */
static int reachable_program(const char *file, int depth) {
  unsigned char h[256];
  int fd = open(file, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 1;   /* exec will say why */
  ssize_t n = pread(fd, h, sizeof h, 0);
  int ok = 1;
  if (n >= 2 && h[0] == '#' && h[1] == '!' && depth < 4) {
    char line[256];
    memcpy(line, h + 2, (size_t)n - 2);
    line[n - 2] = 0;
    line[strcspn(line, "\n")] = 0;
    char *s = line + strspn(line, " \t\r\v\f");
    s[strcspn(s, " \t\r\v\f")] = 0;
    if (*s) ok = reachable_program(s, depth + 1);
  } else if (n >= 64 && !memcmp(h, ELFMAG, SELFMAG)) {
    if (h[EI_CLASS] != ELFCLASS64 || h[EI_DATA] != ELFDATA2LSB) ok = 0;
    else {
      Elf64_Ehdr eh;
      memcpy(&eh, h, sizeof eh);
      ok = 0;
      for (int i = 0; i < eh.e_phnum && !ok; i++) {
        Elf64_Phdr ph;
        if (pread(fd, &ph, sizeof ph, (off_t)(eh.e_phoff + (Elf64_Off)i * eh.e_phentsize)) != (ssize_t)sizeof ph) break;
        ok = ph.p_type == PT_INTERP;
      }
    }
  }
  close(fd);
  return ok;
}

/* argv[0] is an MPI launcher, or this is a rank srun started (src/mpi/detect.ts). */
static int mpi_job(const char *found) {
  static const char *names[] = { "srun", "orterun", "mpirun.openmpi", "mpiexec.openmpi", "prterun",
    "mpiexec.hydra", "mpiexec.mpich", "mpirun.mpich", "mpirun", "mpiexec", NULL };
  const char *step = getenv("SLURM_STEP_ID");
  const char *pmi[] = { getenv("PMI_FD"), getenv("PMIX_NAMESPACE"), getenv("PMI_RANK") };
  if (step && *step && ((pmi[0] && *pmi[0]) || (pmi[1] && *pmi[1]) || (pmi[2] && *pmi[2]))) return 1;
  char real[PATH_MAX];
  const char *files[] = { found, realpath(found, real) ? real : found };
  for (int f = 0; f < 2; f++) {
    const char *base = strrchr(files[f], '/');
    base = base ? base + 1 : files[f];
    for (int i = 0; names[i]; i++) if (!strcmp(base, names[i])) return 1;
  }
  return 0;
}

/* The descriptors this process inherited (all it has open now). */
static int inherited(int *fds) {
  int n = 0;
  DIR *d = opendir("/proc/self/fd");
  struct dirent *e;
  while (d && (e = readdir(d)) && n < MAX_HANDED)
    if (e->d_name[0] >= '0' && e->d_name[0] <= '9' && atoi(e->d_name) != dirfd(d)) fds[n++] = atoi(e->d_name);
  if (d) closedir(d);
  return n;
}

/* What options.ts parseCompression takes: zstd, zstd:LEVEL (-100..22), lz4, lz4:N (1-5 digits), none. */
static int known_compression(const char *c) {
  if (!strcmp(c, "zstd") || !strcmp(c, "lz4") || !strcmp(c, "none")) return 1;
  const char *digits = !strncmp(c, "zstd:", 5) ? c + 5 + (c[5] == '-') : !strncmp(c, "lz4:", 4) ? c + 4 : NULL;
  size_t n = digits ? strspn(digits, "0123456789") : 0;
  if (!digits || n == 0 || digits[n] || n > (c[0] == 'z' ? 3u : 5u)) return 0;
  long v = strtol(c + (c[0] == 'z' ? 5 : 4), NULL, 10);
  return c[0] != 'z' || (v >= -100 && v <= 22);
}

struct opts { const char *coord, *ckpt_dir, *token_file, *coord_host, *interval, *keep, *port; int close_inherited, allow_static; };

/* The options before `--`, spelled as docs/cli.md writes them; the index
 * of the program, or to Node. */
static int parse(int argc, char **argv, struct opts *o) {
  static const char *valued[] = { "--coord", "--ckpt-dir", "--token-file", "--coord-host", "--interval", "--keep", "--port", NULL };
  const char **slot[] = { &o->coord, &o->ckpt_dir, &o->token_file, &o->coord_host, &o->interval, &o->keep, &o->port };
  int i;
  for (i = 0; i < argc && strcmp(argv[i], "--"); i++) {
    const char *a = argv[i];
    int *flag = !strcmp(a, "--close-inherited") ? &o->close_inherited : !strcmp(a, "--allow-static") ? &o->allow_static : NULL;
    if (flag) {
      if (*flag) to_node("an option given twice");
      *flag = 1;
      continue;
    }
    int k;
    for (k = 0; valued[k] && strcmp(a, valued[k]); k++) {}
    if (!valued[k]) to_node("an option the fast path does not take");
    if (*slot[k]) to_node("an option given twice");
    if (i + 1 >= argc || !*argv[i + 1] || argv[i + 1][0] == '-') to_node("an option without its value");
    *slot[k] = argv[++i];
  }
  if (i >= argc || i + 1 >= argc) to_node("no program after --");
  /* Node checks its value (options.ts parseCompression) and says what is wrong. */
  if (getenv("STASIS_COMPRESS") && !known_compression(getenv("STASIS_COMPRESS"))) to_node("a compression Node refuses");
  if ((o->interval && parse_whole(o->interval, MAX_SAFE) < 0) || (o->keep && parse_whole(o->keep, MAX_SAFE) < 0)
      || (o->port && parse_whole(o->port, 65535) < 0))
    to_node("a bad number");
  return i + 1;
}

static void set(const char *name, const char *value) {
  if (setenv(name, value, 1)) to_node("out of memory");
}

_Noreturn void fast_launch(int argc, char **argv) {
  struct opts o = { 0 };
  char **prog = argv + parse(argc, argv, &o);
  const char *sc = getenv("STASIS_COORD"), *lt = getenv("STASIS_LAUNCH_TIME");
  char launched[32];
  if (sc && *sc && lt && *lt) snprintf(launched, sizeof launched, "%s", lt);
  else {
    struct timeval tv;
    gettimeofday(&tv, NULL);
    snprintf(launched, sizeof launched, "%lld", (long long)tv.tv_sec * 1000 + tv.tv_usec / 1000);
  }
  char *file = resolve_program(prog[0]);
  if (!file) to_node("the program is not there (Node says so)");
  if (!o.allow_static && !reachable_program(file, 0)) to_node("libstasis cannot reach the program (Node says so)");
  if (mpi_job(file)) to_node("an MPI job (Node sets its transports)");
  const char *cd = getenv("STASIS_CKPT_DIR");
  char *dir = resolve_path(o.ckpt_dir ? o.ckpt_dir : cd && *cd ? cd : "stasis-ckpt");
  if (!dir) to_node("the checkpoint directory's path");
  const char *coord = o.coord ? o.coord : sc;
  char *token = NULL, *address = NULL;
  if (coord && *coord) {
    const char *st = getenv("STASIS_TOKEN");
    char *in_dir = join_path(dir, "token");
    if (o.token_file) token = read_token(o.token_file);
    else if (st && *st) token = strdup(st);
    else if (access(in_dir, F_OK) == 0) token = read_token(in_dir);
    free(in_dir);
    if (!token) to_node("no token (Node says so)");
    address = strdup(coord);
  } else {
    struct stat s;
    char *host;
    int port;
    if (stat(dir, &s) || !S_ISDIR(s.st_mode)) to_node("no checkpoint directory yet");
    if (!live_coordinator(dir, &host, &port)) to_node("no coordinator running for the directory");
    char *tf = join_path(dir, "token");
    token = read_token(tf);
    free(tf);
    if (!token) to_node("the token of the directory (Node says why)");
    address = malloc(strlen(host) + 16);
    sprintf(address, strchr(host, ':') ? "[%s]:%d" : "%s:%d", host, port);
  }
  set("STASIS_CKPT_DIR", dir);
  set("STASIS_LAUNCH_TIME", launched);
  set("STASIS_COORD", address);
  set("STASIS_TOKEN", token);
  unsetenv("STASIS_PLUGINS");
  unsetenv("STASIS_HANDOVER");
  unsetenv("STASIS_INHERITED");
  /* From here on, as the execve addon and stasis-launch. */
  int fds[MAX_HANDED], n = inherited(fds);
  if (o.close_inherited) {
    int kept = 0;
    for (int i = 0; i < n; i++)
      if (fds[i] <= 2) fds[kept++] = fds[i];
      else close(fds[i]);
    n = kept;
  }
  static char record[MAX_HANDED * 24 + 64];
  make_anchors(fds, n, record, sizeof record);
  if (record[0] && putenv(record)) to_node("out of memory");
  if (add_preload("stasis") != 0) exit(1);
  reset_signals();
  execvp(prog[0], prog);
  int err = errno;
  fprintf(stderr, "stasis: cannot run %s: %s\n", prog[0], strerror(err));
  exit(err == ENOENT ? 127 : 126);
}
