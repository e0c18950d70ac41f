/* --tree: one loader restores a whole process tree. Every image is verified
 * first (nothing forks or maps while any is damaged); then the loader forks
 * one child per child process, recursively, so each restored process is
 * again the child of its parent; sessions and group leaders are re-made.
 * Each node is "VPID:PPID:PGID:SID:IMAGE" (ids as the program knew them);
 * the first node is the root, the process this loader becomes. Pipes
 * between the tree's processes, pseudo-terminals, UNIX socket pairs, TCP
 * connections and listeners, and shared memory objects are made before the
 * first fork (plugins/{pipe,pty,socket,shm}/loader*.c). */
#include "image.h"
#include "../plugins/shm/loader.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

struct tree_node { long vpid, ppid, pgid, sid; const char *image; };

static int parse(const char *spec, struct tree_node *n) {
  int used = 0;
  if (sscanf(spec, "%ld:%ld:%ld:%ld:%n", &n->vpid, &n->ppid, &n->pgid, &n->sid, &used) != 4 || !spec[used]) return -1;
  n->image = spec + used;
  return 0;
}

static void release(struct image *img) {
  image_close(img);
  free(img->regions);
  free(img->pages);
}

static const struct tree_node *find(const struct tree_node *nodes, int n, long vpid) {
  for (int i = 0; i < n; i++) if (nodes[i].vpid == vpid) return &nodes[i];
  return NULL;
}

/* Its session and group as they were, made before it forks its own children
 * (who inherit them), then the terminals of that session (plugins/pty/loader.c): the
 * tree's own leaders again, and a new session or group where the old one's
 * leader is not in the job (gone: a daemon's). The pid plugin shows the
 * program the old ids (plugins/pid/groups.c). The root stays in the
 * restarter's session unless it is a daemon's (new_session). */
static void join_session(const struct tree_node *nodes, int n, int me, int new_session) {
  extern void ptys_take_terminal(long vpid, long pgid, long sid);
  const struct tree_node *self = &nodes[me], *parent = me ? find(nodes, n, self->ppid) : NULL;
  if (!parent) {
    if (new_session) setsid();
  } else if (self->sid == self->vpid || (self->sid != parent->sid && !find(nodes, n, self->sid))) {
    setsid();
  } else if (self->pgid == self->vpid || (self->pgid != parent->pgid && !find(nodes, n, self->pgid))) {
    setpgid(0, 0);
  }
  if (parent || getsid(0) == getpid()) ptys_take_terminal(self->vpid, self->pgid, self->sid);
}

/* Forks the children of node `me`; each child continues as its node. */
static int become(struct tree_node *nodes, int n, int me) {
  for (int i = 0; i < n; i++) {
    if (i == me || i == 0 || nodes[i].ppid != nodes[me].vpid) continue;   /* the root is nobody's child here */
    pid_t pid = fork();
    if (pid < 0) { perror("stasis-restart: fork"); _exit(71); }
    if (pid == 0) {
      join_session(nodes, n, i, 0);
      return become(nodes, n, i);
    }
  }
  return me;
}

/* STASIS_DEBUG: a line as each stage of making the tree's resources ends,
 * in seconds since the loader began: a loader that another waits for
 * (a TCP connection's far end) says how far it got. */
static double t_begin;
static void stage(const char *image, const char *what) {
  if (!getenv("STASIS_DEBUG")) return;
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  double t = ts.tv_sec + ts.tv_nsec / 1e9;
  if (!t_begin) t_begin = t;
  if (what) fprintf(stderr, "stasis-restart: %s: +%.2fs %s\n", image, t - t_begin, what);
}

const char *tree_restore(int count, char **specs, int new_session) {
  stage(NULL, NULL);   /* the clock starts */
  struct tree_node *nodes = calloc(count, sizeof *nodes);
  for (int i = 0; i < count; i++) {
    if (!nodes || parse(specs[i], &nodes[i]) < 0) {
      fprintf(stderr, "stasis-restart: bad --tree node '%s' (want VPID:PPID:PGID:SID:IMAGE)\n", specs[i]);
      exit(2);
    }
    struct image img;
    if (image_open_verified(&img, nodes[i].image) < 0) exit(3);
    release(&img);
  }
  extern int pipes_prepare(int count, const char *const *images, char *out, size_t cap);
  extern int ptys_prepare(int count, const char *const *images, char *out, size_t cap);
  extern int inherited_prepare(int count, const char *const *images, char *out, size_t cap);
  extern int unix_sockets_prepare(int count, const char *const *images, char *out, size_t cap);
  extern int tcp_sockets_prepare(int count, const char *const *images, char *out, size_t cap);
  extern int udp_sockets_prepare(int count, const char *const *images, char *out, size_t cap);
  extern char restart_inherited[RESTART_INHERITED_MAX];
  const char **images = calloc(count, sizeof *images);
  for (int i = 0; images && i < count; i++) images[i] = nodes[i].image;
  extern int zombies_check(int count, const char *const *images);
  const char *root = images ? images[0] : "-";
  stage(root, "images verified");
  if (!images || pipes_prepare(count, images, restart_inherited, sizeof restart_inherited) < 0 ||
      ptys_prepare(count, images, restart_inherited, sizeof restart_inherited) < 0 ||
      inherited_prepare(count, images, restart_inherited, sizeof restart_inherited) < 0)
    exit(3);
  stage(root, "pipes, terminals, inherited descriptors made");
  if (unix_sockets_prepare(count, images, restart_inherited, sizeof restart_inherited) < 0) exit(3);
  stage(root, "UNIX sockets made");
  if (tcp_sockets_prepare(count, images, restart_inherited, sizeof restart_inherited) < 0) exit(3);
  stage(root, "TCP connections and listeners made");
  if (udp_sockets_prepare(count, images, restart_inherited, sizeof restart_inherited) < 0 ||
      shm_prepare(count, images) < 0 || zombies_check(count, images) < 0)
    exit(3);
  free(images);
  join_session(nodes, count, 0, new_session);
  int me = become(nodes, count, 0);
  shm_keep_only(nodes[me].image);
  return nodes[me].image;
}
