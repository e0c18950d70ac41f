/* `stasis restart [D] [--eager]` without Node, in the plain case: one
 * process tree that ran on this host, restarted outside a batch allocation
 * and not on a terminal, from D's newest generation when `latest` names it.
 * Does what src/cli/restart.ts does then: checks the generation
 * (front_restart_check.c), starts the private coordinator
 * (front_restart_coord.c) and execs the loader, which restores the tree.
 * Node's start is then not in the restart's time; a lone process does not
 * even wait for its coordinator's (STASIS_RESTORE_ALONE). Everything else
 * goes to Node before anything is started: several trees or hosts, any
 * option but --eager, a local level, a notice to give, and every doubt (a
 * generation that does not verify: Node skips to an older one, saying why). */
#include "front.h"
#include "front_restart.h"
#include "json.h"
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/personality.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MANIFEST_MAX (16 << 20)

static struct timespec t_start;
static int debug;

void say(const char *what) {
  if (!debug) return;
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  fprintf(stderr, "stasis restart: %s at %.0f ms (fast path)\n", what,
          (double)(t.tv_sec - t_start.tv_sec) * 1e3 + (double)(t.tv_nsec - t_start.tv_nsec) / 1e6);
}

/* 42 for "gen-000042" written as generationName writes it, else -1. */
static long long gen_number(const char *name) {
  if (strncmp(name, "gen-", 4)) return -1;
  long long n = parse_whole(name + 4, 999999999999LL);
  char canon[32];
  if (n < 0) return -1;
  snprintf(canon, sizeof canon, "gen-%06lld", n);
  return strcmp(canon, name) ? -2 : n;   /* -2: a name Node reads otherwise */
}

/* The generation chooseGeneration picks without a notice: the highest
 * gen-N of all, committed, and the one `latest` names. */
static long long plain_generation(const char *store) {
  DIR *d = opendir(store);
  if (!d) to_node("the store cannot be listed (Node says why)");
  long long top = -1;
  struct dirent *e;
  while ((e = readdir(d))) {
    long long n = gen_number(e->d_name);
    if (n == -2) { closedir(d); to_node("an odd generation name"); }
    if (n > top) top = n;
  }
  closedir(d);
  if (top < 1) to_node("no generation (Node says why)");
  char name[32], link[PATH_MAX], *manifest;
  snprintf(name, sizeof name, "gen-%06lld", top);
  char *latest = join_path(store, "latest");
  ssize_t n = latest ? readlink(latest, link, sizeof link - 1) : -1;
  free(latest);
  if (n < 0) to_node("no latest link (a notice)");
  link[n] = 0;
  const char *base = strrchr(link, '/') ? strrchr(link, '/') + 1 : link;
  if (strcmp(base, name)) to_node("latest does not name the newest generation (a notice)");
  char rel[64];
  snprintf(rel, sizeof rel, "%s/manifest.json", name);
  manifest = join_path(store, rel);
  struct stat st;
  if (!manifest || stat(manifest, &st) < 0) to_node("the newest generation is not committed (a notice)");
  free(manifest);
  return top;
}

/* This binary's directory (native/build): the loader and the detach helper live there. */
const char *exe_dir(void) {
  static char dir[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", dir, sizeof dir - 1);
  if (n <= 0) to_node("/proc/self/exe unreadable");
  dir[n] = 0;
  *strrchr(dir, '/') = 0;
  return dir;
}


/* D/settings.json as readSettings takes it; anything else (none, a local level, corrupt) is Node's. */
static void read_settings(const char *store, struct settings *s) {
  char *file = join_path(store, "settings.json");
  char *text = file ? read_file(file, 65536) : NULL;
  free(file);
  struct json *j = text ? json_parse(text) : NULL;
  free(text);
  const struct json *iv = json_get(j, "interval"), *kp = json_get(j, "keep"), *cp = json_get(j, "compress"),
                    *pl = json_get(j, "plugins"), *sv = json_get(j, "save"), *ld = json_get(j, "localDir");
  if (!j || j->type != J_OBJ || !is_whole(iv) || !is_whole(kp) || !cp || (cp->type != J_NULL && cp->type != J_STR)
      || (sv && !(is_str(sv) && !strcmp(sv->str, "forked"))) || ld || (pl && pl->type != J_ARR)) {
    json_free(j);
    to_node("settings.json is missing, has a local level, or is not plain");
  }
  s->interval = (long long)iv->num;
  s->keep = (long long)kp->num;
  s->forked = sv != NULL;
  s->plugins[0] = 0;
  for (size_t i = 0; pl && i < pl->n; i++) {
    const struct json *p = pl->items[i];
    size_t len = strlen(s->plugins);
    if (!is_str(p) || !*p->str || strchr(p->str, ',') || len + strlen(p->str) + 2 > sizeof s->plugins) { json_free(j); to_node("odd plugins"); }
    snprintf(s->plugins + len, sizeof s->plugins - len, "%s%s", len ? "," : "", p->str);
  }
  json_free(j);
}

_Noreturn void fast_restart(int argc, char **argv) {
  clock_gettime(CLOCK_MONOTONIC, &t_start);
  debug = getenv("STASIS_DEBUG") != NULL;
  const char *target = NULL;
  int eager = 0;
  for (int i = 0; i < argc; i++) {
    if (!strcmp(argv[i], "--eager") && !eager) eager = 1;
    else if (argv[i][0] != '-' && !target) target = argv[i];
    else to_node("an option the fast path does not take");
  }
  if (!target) target = getenv("STASIS_CKPT_DIR") && *getenv("STASIS_CKPT_DIR") ? getenv("STASIS_CKPT_DIR") : "stasis-ckpt";
  static const char *nodes_vars[] = { "STASIS_ROOT", "STASIS_SAVE", "STASIS_COORD_HOST", "STASIS_RM", "SLURM_JOB_ID", "SLURM_JOBID", "PBS_JOBID" };
  for (size_t i = 0; i < sizeof nodes_vars / sizeof *nodes_vars; i++)
    if (getenv(nodes_vars[i]) && *getenv(nodes_vars[i])) to_node("an allocation, a root or a coordinator host (Node's)");
  if (!*target) to_node("an empty target (Node says so)");
  char *store = resolve_path(target);
  struct stat st;
  if (!store) to_node("a path too long");
  if (stat(store, &st) < 0) {
    if (errno != ENOENT) to_node("the target cannot be read (Node says why)");
    fprintf(stderr, "stasis: %s: no such checkpoint directory\n", target);
    exit(2);
  }
  if (!S_ISDIR(st.st_mode)) { fprintf(stderr, "stasis: %s: not a directory\n", target); exit(2); }
  if (isatty(2)) to_node("a terminal: Node draws the progress");
  char real[PATH_MAX];
  if (!realpath(store, real) || gen_number(strrchr(real, '/') + 1) != -1) to_node("a generation named (Node's)");
  char *chost;
  int cport;
  if (live_coordinator(store, &chost, &cport) > 0) to_node("a coordinator serves the store (Node waits or says so)");
  struct settings s;
  read_settings(store, &s);
  say("started");

  long long g = plain_generation(store);
  char gname[32];
  snprintf(gname, sizeof gname, "gen-%06lld", g);
  char *gen_dir = join_path(store, gname), *mpath = gen_dir ? join_path(gen_dir, "manifest.json") : NULL;
  char *mtext = mpath ? read_file(mpath, MANIFEST_MAX) : NULL;
  struct json *m = mtext ? json_parse(mtext) : NULL;
  const struct json *fmt = json_get(m, "format"), *ver = json_get(m, "version"), *gn = json_get(m, "generation"),
                    *procs = json_get(m, "processes");
  if (!m || m->type != J_OBJ || !is_str(fmt) || strcmp(fmt->str, "stasis-manifest") || !ver || ver->type != J_NUM || ver->num != 1
      || !is_whole(gn) || gn->num < 1 || !procs || procs->type != J_ARR || procs->n == 0)
    to_node("a manifest the fast path does not read (Node says why)");
  if (procs->n > PROCS_MAX) to_node("more processes than the fast path takes");
  static struct proc ps[PROCS_MAX];
  size_t n = procs->n, vlen = 0;
  for (size_t i = 0; i < n; i++) read_proc(procs->items[i], &ps[i], gen_dir);
  for (size_t i = 0; i < n; i++)
    for (size_t k = 0; k < i; k++) {
      if (strcmp(ps[i].origin, ps[k].origin)) to_node("processes of several origins");
      if (ps[i].pid == ps[k].pid) to_node("a process listed twice (Node says so)");
    }
  /* One tree (tree.ts): its root first, then depth first in the manifest's order. */
  size_t order[PROCS_MAX], nroots = 0, norder = 0;
  for (size_t i = 0; i < n; i++) {
    int parent_in = 0;
    for (size_t k = 0; k < n && ps[i].has_ppid && ps[i].ppid != ps[i].pid; k++) parent_in |= ps[k].pid == ps[i].ppid;
    if (!parent_in) order[norder++] = i, nroots++;
  }
  if (nroots != 1) to_node("several process trees");
  for (size_t at = 0; at < norder; at++) {   /* insert each one's children right after it, in order */
    size_t kids[PROCS_MAX], nk = 0;
    for (size_t k = 0; k < n; k++)
      if (ps[k].has_ppid && ps[k].ppid == ps[order[at]].pid && ps[k].pid != ps[order[at]].pid) kids[nk++] = k;
    if (norder + nk > n) to_node("an odd process tree");
    memmove(order + at + 1 + nk, order + at + 1, (norder - at - 1) * sizeof *order);
    memcpy(order + at + 1, kids, nk * sizeof *kids);
    norder += nk;
  }
  if (norder != n) to_node("an odd process tree");
  char loader[PATH_MAX];
  snprintf(loader, sizeof loader, "%s/stasis-restart", exe_dir());
  /* Under the kernel's 128 KiB for one variable; an identity that does not fit is read again by the loader. */
  static char verified[120 << 10];
  if (s.forked) setenv("STASIS_SAVE", "forked", 1);   /* the coordinator reads it, as restart.ts sets it */
  struct pending_coordinator pc;
  coordinator_spawn(&pc, store, gen_dir, &s, n);
  say("coordinator forked");
  for (size_t i = 0; i < n; i++) verify_proc(&ps[i], verified, sizeof verified, &vlen);
  say("verified");
  pid_t coordinator = coordinator_go(&pc, store);
  say("coordinator started");
  char coord[32];
  snprintf(coord, sizeof coord, "127.0.0.1:%d", pc.port);
  setenv("STASIS_COORD", coord, 1);
  setenv("STASIS_TOKEN", pc.token, 1);
  setenv("STASIS_CKPT_DIR", store, 1);
  if (s.plugins[0]) setenv("STASIS_PLUGINS", s.plugins, 1);
  else unsetenv("STASIS_PLUGINS");
  if (vlen) setenv("STASIS_VERIFIED", verified, 1);
  else unsetenv("STASIS_VERIFIED");
  if (eager) setenv("STASIS_EAGER", "1", 1);
  /* Alone in its generation: it runs on before its coordinator answers (native/core/checkpoint.c). */
  if (n == 1) setenv("STASIS_RESTORE_ALONE", "1", 1);
  else unsetenv("STASIS_RESTORE_ALONE");
  unsetenv("STASIS_PATH_MAP");
  unsetenv("STASIS_RESTORED_FROM");   /* they stay where they ran */
  static char *args[PROCS_MAX + 3];
  size_t na = 0;
  args[na++] = "stasis-restart";
  if (n == 1) args[na++] = ps[0].path;
  else {
    args[na++] = "--tree";
    for (size_t i = 0; i < n; i++) {
      const struct proc *q = &ps[order[i]];
      if (asprintf(&args[na++], "%lld:%lld:%lld:%lld:%s", q->pid, q->ppid, q->pgid, q->sid, q->path) < 0) {
        fprintf(stderr, "stasis: out of memory\n");
        kill(coordinator, SIGTERM);
        exit(1);
      }
    }
  }
  args[na] = NULL;
  /* The loader wants its brk heap right after itself: without this it
   * execs itself again to have it (reexec_without_aslr), a few ms more. */
  int persona = personality(0xffffffff);
  if (persona != -1) personality((unsigned long)persona | ADDR_NO_RANDOMIZE);
  execv(loader, args);
  fprintf(stderr, "stasis: cannot run %s: %s\n", loader, strerror(errno));
  kill(coordinator, SIGTERM);
  exit(1);
}
