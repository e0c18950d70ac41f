/* ssh, rsh and srun command lines, parsed as src/ssh/argv.ts and
 * src/ssh/srun.ts parse them (the grammar is described there; the table
 * of test/ssh/ holds both to the same answers). No allocation: exec may
 * run in a vfork child; what is not a piece of argv goes in `pool`. */
#ifndef STASIS_SSH_ARGV_H
#define STASIS_SSH_ARGV_H
#include <stddef.h>

#define REMOTE_MAX_OPTIONS 256

struct remote_parse {
  int pass;                  /* 1: not rewritten, `reason` says why */
  char reason[160];
  const char *user, *host, *port;   /* user, port: NULL when not given */
  const char *options[REMOTE_MAX_OPTIONS];   /* one word per option or value */
  int noptions;
  int stdin_null;
  int command;               /* index in argv of the command's first word */
  char pool[4096];
  size_t used;
};

/* 0 (r filled, r->pass set or not). argv ends with NULL. */
int ssh_parse(char *const argv[], struct remote_parse *r);
int rsh_parse(char *const argv[], struct remote_parse *r);
/* ssh or rsh by the base name of `name`; -1 when neither. */
int remote_parse(const char *name, char *const argv[], struct remote_parse *r);

enum srun_arg { ARG_NONE, ARG_REQUIRED, ARG_OPTIONAL };
struct srun_option { const char *name; enum srun_arg arg; char letter; };
extern const struct srun_option srun_options[];
extern const int srun_noptions;

struct srun_parse {
  int pass;
  char reason[160];
  int options_end;           /* srun's options are argv[1 .. options_end) */
  int command;               /* index of the command's first word */
};
int srun_parse(char *const argv[], struct srun_parse *r);

/* The base name of a path (a pointer into it). */
const char *argv_basename(const char *path);
#endif
