/* --tree: one loader restores a whole process tree. Every image is verified
 * first (nothing forks or maps while any is damaged); then the loader forks
 * one child per child process, recursively, so each restored process is
 * again the child of its parent; sessions and group leaders are re-made.
 * Each node is "VPID:PPID:PGID:SID:IMAGE" (ids as the program knew them);
 * the first node is the root, the process this loader becomes. Pipes
 * and pseudo-terminals between the tree's processes are made before the
 * first fork (pipes.c, ptys.c). */
#include "image.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

struct tree_node { long vpid, ppid, pgid, sid; const char *image; };

static int parse(const char *spec, struct tree_node *n) {
  int used = 0;
  if (sscanf(spec, "%ld:%ld:%ld:%ld:%n", &n->vpid, &n->ppid, &n->pgid, &n->sid, &used) != 4 || !spec[used]) return -1;
  n->image = spec + used;
  return 0;
}

static void release(struct image *img) {
  munmap((void *)img->base, img->size);
  close(img->fd);
  free(img->regions);
  free(img->pages);
}

/* Its session and group, made before it forks its own children (who
 * inherit them), then the terminals of that session (ptys.c). */
static void join_session(const struct tree_node *self, int root) {
  extern void ptys_take_terminal(long vpid, long pgid, long sid);
  if (!root && self->sid == self->vpid) setsid();
  else if (!root && self->pgid == self->vpid) setpgid(0, 0);
  if (!root || getsid(0) == getpid()) ptys_take_terminal(self->vpid, self->pgid, self->sid);
}

/* Forks the children of node `me`; each child continues as its node. */
static int become(struct tree_node *nodes, int n, int me) {
  for (int i = 0; i < n; i++) {
    if (i == me || nodes[i].ppid != nodes[me].vpid) continue;
    pid_t pid = fork();
    if (pid < 0) { perror("stasis-restart: fork"); _exit(71); }
    if (pid == 0) {
      join_session(&nodes[i], 0);
      return become(nodes, n, i);
    }
  }
  return me;
}

const char *tree_restore(int count, char **specs) {
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
  extern char restart_inherited[8192];
  const char **images = calloc(count, sizeof *images);
  for (int i = 0; images && i < count; i++) images[i] = nodes[i].image;
  if (!images || pipes_prepare(count, images, restart_inherited, sizeof restart_inherited) < 0 ||
      ptys_prepare(count, images, restart_inherited, sizeof restart_inherited) < 0)
    exit(3);
  free(images);
  join_session(&nodes[0], 1);
  return nodes[become(nodes, count, 0)].image;
}
