/* The plain restart of bin/stasis's fast path: the flow (front_restart.c),
 * what it checks of a generation (front_restart_check.c), the private
 * coordinator it starts (front_restart_coord.c). */
#pragma once
#include "json.h"
#include <stddef.h>
#include <sys/types.h>

#define PROCS_MAX 256

/* One process of the manifest (manifest.ts ManifestProcess). */
struct proc {
  long long pid, ppid, pgid, sid;
  int has_ppid;
  const char *origin, *image;
  char *path;
  const struct json *entry;
};

/* D/settings.json (settings.ts JobSettings), as the fast path takes it. */
struct settings { long long interval, keep; int forked; char plugins[8192]; };

/* A whole number JavaScript holds exactly (>= 0); a string. */
int is_whole(const struct json *v);
int is_str(const struct json *v);
/* One manifest entry as parseManifest takes it, of this host; else to_node. */
void read_proc(const struct json *p, struct proc *out, const char *gen_dir);
/* STASIS_DEBUG: what the fast path has done, and when. */
void say(const char *what);
/* Its image checked against the manifest and verified as the loader does, its
 * side files checked; the image files' identities appended to `verified`
 * (STASIS_VERIFIED); else to_node. */
void verify_proc(const struct proc *p, char *verified, size_t cap, size_t *vlen);
/* The private coordinator of `expect` processes restored from gen_dir:
 * coordinator_spawn forks it (detached, not yet Node) before the
 * generation is verified; coordinator_go, once it verified, lets it become
 * Node and publishes it in store (its pid). Handing the restart to Node or
 * exiting instead ends it (it reads end of file where the word would be). */
struct pending_coordinator { int port; char token[65]; pid_t child; int pid_r, err_r, go_w; };
void coordinator_spawn(struct pending_coordinator *c, const char *store, const char *gen_dir, const struct settings *s, size_t expect);
pid_t coordinator_go(struct pending_coordinator *c, const char *store);
/* This binary's directory (native/build). */
const char *exe_dir(void);
