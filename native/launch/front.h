/* stasis-front: the fast path of bin/stasis (docs/cli.md, "The fast path").
 * It runs `stasis launch` joining a running coordinator and `stasis
 * command`'s five commands without Node; whatever it is not sure of it
 * leaves to the Node CLI, which then does it as it always did (errors,
 * --help, a private coordinator, MPI launchers, a terminal's progress). */
#pragma once
#include <stddef.h>

/* Gives the command to the Node CLI; never returns (see front.c). */
_Noreturn void to_node(const char *why);
/* Called by to_node first: what a fast command started is undone (a child
 * reaped, so that neither Node nor the program it may become inherits it). */
extern void (*before_node)(void);

/* `stasis launch ARGS` / `stasis command ARGS` (args after the command's
 * name, argc of them); each returns only through to_node or an exit. */
_Noreturn void fast_launch(int argc, char **argv);
_Noreturn void fast_command(int argc, char **argv);
/* `stasis restart ARGS`, the plain case (front_restart.c). */
_Noreturn void fast_restart(int argc, char **argv);

/* Node's path.resolve(p) against the working directory; NULL if too long. */
char *resolve_path(const char *p);
/* Node's path.normalize of a/b (path.join). */
char *join_path(const char *a, const char *b);
/* A text file of fewer than max bytes without NULs (malloc'd), else NULL. */
char *read_file(const char *file, size_t max);
/* The trimmed first line... of a token file, as readToken; NULL if unreadable. */
char *read_token(const char *file);
/* A published coordinator that still runs for dir (liveCoordinator): its
 * host (malloc'd) and port; 0, or -1 when there is none or its
 * coordinator.json is anything else than what a coordinator writes. */
int live_coordinator(const char *dir, char **host, int *port);
/* A whole decimal number of digits only, <= max (options.ts parseInteger); -1 if not. */
long long parse_whole(const char *s, long long max);
/* JavaScript's String(x) of a number. */
void js_number(double x, char *out, size_t cap);
/* JavaScript's x.toFixed(2) for 0 <= x < 1e21. */
void js_fixed2(double x, char *out, size_t cap);
