/* `stasis restart [D] [--eager]` without Node, in the plain case: one
 * process that ran on this host, restarted outside a batch allocation and
 * not on a terminal, from D's newest generation when `latest` names it.
 * Does what src/cli/restart.ts does then: checks the generation against its
 * manifest and has the loader verify every byte (stasis-restart --verify),
 * starts the private coordinator (Node, detached; the process runs on before
 * it answers: STASIS_RESTORE_ALONE) and execs the loader. Node's start is
 * then no longer in the restart's time. Everything else goes to Node before
 * anything is started: several processes or hosts, any option but --eager, a
 * local level, a notice to give, and every doubt (a generation that does not
 * verify: Node skips to an older one, saying why). */
#include "front.h"
#include "json.h"
#include "../core/crc32c.h"
#include "../core/image_format.h"
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MANIFEST_MAX (16 << 20)
#define PAGE 4096

static struct timespec t_start;
static int debug;

static void say(const char *what) {
  if (!debug) return;
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  fprintf(stderr, "stasis restart: %s at %.0f ms (fast path)\n", what,
          (double)(t.tv_sec - t_start.tv_sec) * 1e3 + (double)(t.tv_nsec - t_start.tv_nsec) / 1e6);
}

static int is_whole(const struct json *v) { return v && v->type == J_NUM && v->num >= 0 && v->num == (double)(long long)v->num && v->num <= 9007199254740991.0; }
static int is_str(const struct json *v) { return v && v->type == J_STR; }

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

static int checksum_like(const struct json *v) {
  if (!is_str(v) || strlen(v->str) != 15 || strncmp(v->str, "crc32c:", 7)) return 0;
  for (const char *c = v->str + 7; *c; c++) if (!((*c >= '0' && *c <= '9') || (*c >= 'a' && *c <= 'f'))) return 0;
  return 1;
}

static int name_like(const char *s) {
  return *s && !strchr(s, '/') && strcmp(s, ".") && strcmp(s, "..");
}

/* A side file's name as parseManifest takes it: IMAGE.something, or [A-Za-z0-9_-][A-Za-z0-9_.-]*. */
static int side_name_like(const char *s, const char *image) {
  size_t il = strlen(image);
  if (!strncmp(s, image, il) && s[il] == '.') return 1;
  for (const char *c = s; *c; c++)
    if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') || *c == '_' || *c == '-' || (*c == '.' && c > s)))
      return 0;
  return 1;
}

/* files / refs of the process: absent, or [{name, bytes, checksum}] with names of their kind. */
static int files_ok(const struct json *list, const char *image, int refs) {
  if (!list) return 1;
  if (list->type != J_ARR) return 0;
  size_t il = strlen(image);
  for (size_t i = 0; i < list->n; i++) {
    const struct json *f = list->items[i], *name = json_get(f, "name");
    if (!f || f->type != J_OBJ || !is_str(name) || !name_like(name->str) || !strcmp(name->str, "manifest.json")
        || (!refs && !side_name_like(name->str, image))
        || !is_whole(json_get(f, "bytes")) || !checksum_like(json_get(f, "checksum")))
      return 0;
    if (refs && (strncmp(name->str, image, il) || strlen(name->str) != il + 8 || name->str[il] != '.' || name->str[il + 1] != 'g'
                 || parse_whole(name->str + il + 2, 999999) < 0))
      return 0;
  }
  return 1;
}

static int this_host(const char *host) {
  struct utsname u;
  if (uname(&u) < 0) return 0;
  size_t hs = strcspn(u.nodename, "."), gs = strcspn(host, ".");
  return !strcmp(host, "localhost") || (hs == gs && !strncmp(host, u.nodename, hs));
}

/* Record headers walked as manifest-check.ts does: the image checksum over
 * them, the END record's end; 0 when it matches size and checksum. */
static int headers_match(const char *path, long long bytes, const char *checksum) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  struct stat st;
  if (fd < 0 || fstat(fd, &st) < 0 || st.st_size != bytes) { if (fd >= 0) close(fd); return -1; }
  uint32_t sum = 0, legacy = 0;
  long long end = -1;
  for (long long off = 0; off + (long long)sizeof(struct rec_header) <= st.st_size;) {
    struct rec_header h;
    if (pread(fd, &h, sizeof h, off) != (ssize_t)sizeof h || h.magic != REC_MAGIC || crc32c(0, &h, 36) != h.header_crc) break;
    sum = crc32c(sum, &h, 36);
    legacy = crc32c(legacy, &h, sizeof h);
    long long at = off + (long long)sizeof h;
    if (h.flags & RECF_ALIGNED) at = (at + PAGE - 1) / PAGE * PAGE;
    if (h.stored_len > (uint64_t)st.st_size) break;
    off = at + (long long)h.stored_len;
    if (h.type == REC_END) { end = off; break; }
  }
  close(fd);
  char a[16], b[16];
  snprintf(a, sizeof a, "%08x", sum);
  snprintf(b, sizeof b, "%08x", legacy);
  return end == st.st_size && (!strcmp(checksum + 7, a) || !strcmp(checksum + 7, b)) ? 0 : -1;
}

/* A side file as verifySideFile reads it: size, crc32c of all before its trailer, the trailer. */
static int side_file_ok(const char *path, long long bytes, const char *checksum) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  struct stat st;
  if (fd < 0 || fstat(fd, &st) < 0 || st.st_size != bytes || bytes < 20) { if (fd >= 0) close(fd); return -1; }
  static char buf[1 << 20];
  uint32_t crc = 0;
  long long body = bytes - 20, at = 0;
  while (at < body) {
    ssize_t r = pread(fd, buf, (size_t)(body - at < (long long)sizeof buf ? body - at : (long long)sizeof buf), at);
    if (r <= 0) { close(fd); return -1; }
    crc = crc32c(crc, buf, (size_t)r);
    at += r;
  }
  char trailer[21] = { 0 }, want[32];
  ssize_t r = pread(fd, trailer, 20, body);
  close(fd);
  snprintf(want, sizeof want, "end crc32c:%08x\n", crc);
  return r == 20 && !strcmp(trailer, want) && strlen(checksum) == 15 && !strncmp(want + 4, checksum, 15) ? 0 : -1;
}

/* fileIdentity: device, inode, size, modification and change times in ns. */
static int identity(const char *path, char *out, size_t cap) {
  struct stat st;
  if (stat(path, &st) < 0) return -1;
  snprintf(out, cap, "%llu:%llu:%lld:%lld%09ld:%lld%09ld", (unsigned long long)st.st_dev, (unsigned long long)st.st_ino,
           (long long)st.st_size, (long long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec, (long long)st.st_ctim.tv_sec, st.st_ctim.tv_nsec);
  return 0;
}

/* This binary's directory (native/build): the loader and the detach helper live there. */
static char *exe_dir(void) {
  static char dir[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", dir, sizeof dir - 1);
  if (n <= 0) to_node("/proc/self/exe unreadable");
  dir[n] = 0;
  *strrchr(dir, '/') = 0;
  return dir;
}

/* The loader's verdict: stasis-restart --verify IMAGE exits 0. */
static int loader_verifies(const char *loader, const char *image) {
  pid_t pid = fork();
  if (pid < 0) return -1;
  if (pid == 0) {
    int null = open("/dev/null", O_RDWR);
    if (null >= 0) { dup2(null, 0); dup2(null, 1); dup2(null, 2); }
    execl(loader, "stasis-restart", "--verify", image, (char *)NULL);
    _exit(127);
  }
  int status;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
  return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

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

struct settings { long long interval, keep; int forked; char plugins[8192]; };

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

/* The private coordinator (spawn.ts startPrivateCoordinator): a listening
 * socket bound here and handed over, Node started detached (not our child:
 * we become the program), published in D. Returns its pid. */
static pid_t start_coordinator(const char *store, const char *gen_dir, const struct settings *s, int *port, char *token) {
  int sock = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
  socklen_t al = sizeof a;
  if (sock < 0 || bind(sock, (struct sockaddr *)&a, sizeof a) < 0 || listen(sock, 511) < 0
      || getsockname(sock, (struct sockaddr *)&a, &al) < 0)
    to_node("cannot listen (Node says why)");
  *port = ntohs(a.sin_port);
  unsigned char raw[32];
  if (getrandom(raw, sizeof raw, 0) != (ssize_t)sizeof raw) to_node("no random bytes for the token");
  for (int i = 0; i < 32; i++) sprintf(token + 2 * i, "%02x", raw[i]);
  static char opts[5 * PATH_MAX], dir_js[2 * PATH_MAX], gen_js[2 * PATH_MAX];
  if (json_string(dir_js, sizeof dir_js, store) < 0 || json_string(gen_js, sizeof gen_js, gen_dir) < 0) to_node("a path too long");
  snprintf(opts, sizeof opts, "{\"ckptDir\":%s,\"host\":\"127.0.0.1\",\"port\":0,\"interval\":%lld,\"keep\":%lld,\"expect\":1,"
           "\"private\":true,\"ownerPid\":%d,\"listenFd\":3,\"timeout\":300,\"alertFd\":4,\"restoreFrom\":%s}",
           dir_js, s->interval, s->keep, (int)getpid(), gen_js);
  char *main_js = join_path(exe_dir(), "../../dist/src/coordinator/private-main.js");
  char *log_path = join_path(store, "coordinator.log");
  int log = log_path ? open(log_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600) : -1;
  int pids[2], errs[2];
  if (!main_js || log < 0 || pipe2(pids, O_CLOEXEC) < 0 || pipe2(errs, O_CLOEXEC) < 0) to_node("cannot prepare the coordinator (Node says why)");
  pid_t child = fork();
  if (child < 0) to_node("cannot fork");
  if (child == 0) {
    pid_t grandchild = fork();
    if (grandchild != 0) {
      ssize_t w = write(pids[1], &grandchild, sizeof grandchild);
      _exit(w == (ssize_t)sizeof grandchild ? 0 : 1);
    }
    setsid();
    /* As Node's spawn leaves a child: default dispositions (a shell's `&` ignores SIGINT), nothing blocked. */
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    for (int sig = 1; sig < NSIG; sig++) signal(sig, SIG_DFL);
    /* stdin, stdout: nothing; stderr: coordinator.log; 3: the socket; 4: the job's stderr. Nothing else. */
    int null = open("/dev/null", O_RDWR | O_CLOEXEC);
    int from[5] = { null, null, log, sock, 2 };
    for (int i = 0; i < 5; i++) from[i] = fcntl(from[i], F_DUPFD_CLOEXEC, 10);
    for (int i = 0; i < 5; i++) dup2(from[i], i);
    close_range(5, ~0U, 0);
    setenv("STASIS_COORD_TOKEN", token, 1);
    execlp("node", "node", main_js, opts, (char *)NULL);
    int err = errno;
    ssize_t w = write(errs[1], &err, sizeof err);
    (void)w;
    _exit(127);
  }
  close(pids[1]);
  close(errs[1]);
  pid_t pid = -1;
  int err = 0, status;
  ssize_t got = read(pids[0], &pid, sizeof pid);
  while (waitpid(child, &status, 0) < 0 && errno == EINTR) {}
  /* The grandchild's exec closes errs: nothing read means Node runs. */
  ssize_t failed = got == (ssize_t)sizeof pid ? read(errs[0], &err, sizeof err) : 0;
  close(pids[0]);
  close(errs[0]);
  close(log);
  if (got != (ssize_t)sizeof pid || pid <= 0 || failed > 0) {
    fprintf(stderr, "stasis: cannot start the coordinator: %s\n", failed > 0 ? strerror(err) : "fork failed");
    exit(1);
  }
  struct utsname u;
  uname(&u);
  static char info[PATH_MAX], node_js[600], tok[80];
  if (json_string(node_js, sizeof node_js, u.nodename) < 0) node_js[0] = 0;
  snprintf(info, sizeof info, "{\"host\":\"127.0.0.1\",\"port\":%d,\"pid\":%d,\"private\":true,\"node\":%s}\n", *port, (int)pid, node_js);
  snprintf(tok, sizeof tok, "%s\n", token);
  char *tf = join_path(store, "token"), *cf = join_path(store, "coordinator.json");
  if (!tf || !cf || write_atomic(tf, tok) < 0 || write_atomic(cf, info) < 0) {
    fprintf(stderr, "stasis: cannot publish the coordinator in %s: %s\n", store, strerror(errno));
    kill(pid, SIGTERM);
    exit(1);
  }
  close(sock);
  free(main_js);
  free(log_path);
  return pid;
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
      || !is_whole(gn) || gn->num < 1 || !procs || procs->type != J_ARR)
    to_node("a manifest the fast path does not read (Node says why)");
  if (procs->n != 1) to_node("several processes");
  const struct json *p = procs->items[0], *image = json_get(p, "image"), *host = json_get(p, "host"), *origin = json_get(p, "origin"),
                    *pid = json_get(p, "pid"), *bytes = json_get(p, "bytes"), *sum = json_get(p, "checksum"),
                    *files = json_get(p, "files"), *refs = json_get(p, "refs");
  if (!p || p->type != J_OBJ || !is_str(image) || !name_like(image->str) || !pid || pid->type != J_NUM || pid->num != (double)(long long)pid->num
      || !is_whole(bytes) || !checksum_like(sum) || !files_ok(files, image->str, 0) || !files_ok(refs, image->str, 1)
      || (origin && !(is_str(origin) && *origin->str)))
    to_node("a process entry the fast path does not read (Node says why)");
  if (!is_str(host) || !this_host(host->str) || (origin && strcmp(origin->str, host->str))) to_node("a process of another host");

  /* checkAgainstManifest, then the loader's verification, then the side files (restorable.ts). */
  char *img = join_path(gen_dir, image->str);
  if (!img || headers_match(img, (long long)bytes->num, sum->str) < 0) to_node("the image differs from the manifest (Node says how)");
  size_t nrefs = refs ? refs->n : 0;
  char **ref_paths = calloc(nrefs + 1, sizeof *ref_paths);
  ref_paths[0] = img;
  for (size_t i = 0; i < nrefs; i++) {
    const struct json *r = refs->items[i];
    ref_paths[i + 1] = join_path(gen_dir, json_get(r, "name")->str);
    if (!ref_paths[i + 1] || headers_match(ref_paths[i + 1], (long long)json_get(r, "bytes")->num, json_get(r, "checksum")->str) < 0)
      to_node("a referenced image differs from the manifest (Node says how)");
  }
  char (*before)[160] = calloc(nrefs + 1, sizeof *before);
  for (size_t i = 0; i <= nrefs; i++) if (identity(ref_paths[i], before[i], sizeof before[i]) < 0) before[i][0] = 0;
  char loader[PATH_MAX];
  snprintf(loader, sizeof loader, "%s/stasis-restart", exe_dir());
  if (loader_verifies(loader, img) < 0) to_node("the loader does not verify the image (Node says why, and tries older ones)");
  size_t vcap = (nrefs + 1) * 161 + 1, vlen = 0;
  char *verified = calloc(1, vcap), now[160];
  for (size_t i = 0; i <= nrefs; i++)
    if (before[i][0] && identity(ref_paths[i], now, sizeof now) == 0 && !strcmp(now, before[i]))
      vlen += (size_t)snprintf(verified + vlen, vcap - vlen, "%s%s", vlen ? "\n" : "", now);
  for (size_t i = 0; files && i < files->n; i++) {
    const struct json *f = files->items[i];
    char *side = join_path(gen_dir, json_get(f, "name")->str);
    if (!side || side_file_ok(side, (long long)json_get(f, "bytes")->num, json_get(f, "checksum")->str) < 0)
      to_node("a side file differs from the manifest (Node says how)");
    free(side);
  }
  say("verified");

  if (s.forked) setenv("STASIS_SAVE", "forked", 1);   /* the coordinator reads it, as restart.ts sets it */
  int port;
  char token[65];
  pid_t coordinator = start_coordinator(store, gen_dir, &s, &port, token);
  say("coordinator started");
  char coord[32];
  snprintf(coord, sizeof coord, "127.0.0.1:%d", port);
  setenv("STASIS_COORD", coord, 1);
  setenv("STASIS_TOKEN", token, 1);
  setenv("STASIS_CKPT_DIR", store, 1);
  if (s.plugins[0]) setenv("STASIS_PLUGINS", s.plugins, 1);
  else unsetenv("STASIS_PLUGINS");
  if (vlen) setenv("STASIS_VERIFIED", verified, 1);
  else unsetenv("STASIS_VERIFIED");
  if (eager) setenv("STASIS_EAGER", "1", 1);
  setenv("STASIS_RESTORE_ALONE", "1", 1);
  unsetenv("STASIS_PATH_MAP");
  unsetenv("STASIS_RESTORED_FROM");   /* it stays where it ran */
  execl(loader, "stasis-restart", img, (char *)NULL);
  fprintf(stderr, "stasis: cannot run %s: %s\n", loader, strerror(errno));
  kill(coordinator, SIGTERM);
  exit(1);
}
