/* srun's command line: the grammar and option table of src/ssh/srun.ts
 * (getopt_long with "+", unique prefixes of long names). */
#include "argv.h"
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

const struct srun_option srun_options[] = {
  { "accel-bind", ARG_REQUIRED, '\0' },
  { "account", ARG_REQUIRED, 'A' },
  { "acctg-freq", ARG_REQUIRED, '\0' },
  { "bb", ARG_REQUIRED, '\0' },
  { "bbf", ARG_REQUIRED, '\0' },
  { "bcast", ARG_OPTIONAL, '\0' },
  { "bcast-exclude", ARG_REQUIRED, '\0' },
  { "begin", ARG_REQUIRED, 'b' },
  { "chdir", ARG_REQUIRED, 'D' },
  { "cluster-constraint", ARG_REQUIRED, '\0' },
  { "clusters", ARG_REQUIRED, 'M' },
  { "comment", ARG_REQUIRED, '\0' },
  { "compress", ARG_OPTIONAL, '\0' },
  { "constraint", ARG_REQUIRED, 'C' },
  { "container", ARG_REQUIRED, '\0' },
  { "contiguous", ARG_NONE, '\0' },
  { "core-spec", ARG_REQUIRED, 'S' },
  { "cores-per-socket", ARG_REQUIRED, '\0' },
  { "cpu-bind", ARG_REQUIRED, '\0' },
  { "cpu-freq", ARG_REQUIRED, '\0' },
  { "cpus-per-gpu", ARG_REQUIRED, '\0' },
  { "cpus-per-task", ARG_REQUIRED, 'c' },
  { "deadline", ARG_REQUIRED, '\0' },
  { "delay-boot", ARG_REQUIRED, '\0' },
  { "dependency", ARG_REQUIRED, 'd' },
  { "disable-status", ARG_NONE, 'X' },
  { "distribution", ARG_REQUIRED, 'm' },
  { "epilog", ARG_REQUIRED, '\0' },
  { "error", ARG_REQUIRED, 'e' },
  { "exact", ARG_NONE, '\0' },
  { "exclude", ARG_REQUIRED, 'x' },
  { "exclusive", ARG_OPTIONAL, '\0' },
  { "export", ARG_REQUIRED, '\0' },
  { "external-launcher", ARG_NONE, '\0' },
  { "extra-node-info", ARG_REQUIRED, 'B' },
  { "gid", ARG_REQUIRED, '\0' },
  { "gpu-bind", ARG_REQUIRED, '\0' },
  { "gpu-freq", ARG_REQUIRED, '\0' },
  { "gpus", ARG_REQUIRED, 'G' },
  { "gpus-per-node", ARG_REQUIRED, '\0' },
  { "gpus-per-socket", ARG_REQUIRED, '\0' },
  { "gpus-per-task", ARG_REQUIRED, '\0' },
  { "gres", ARG_REQUIRED, '\0' },
  { "gres-flags", ARG_REQUIRED, '\0' },
  { "help", ARG_NONE, 'h' },
  { "het-group", ARG_REQUIRED, '\0' },
  { "hint", ARG_REQUIRED, '\0' },
  { "hold", ARG_NONE, 'H' },
  { "immediate", ARG_OPTIONAL, 'I' },
  { "input", ARG_REQUIRED, 'i' },
  { "job-name", ARG_REQUIRED, 'J' },
  { "jobid", ARG_REQUIRED, '\0' },
  { "kill-on-bad-exit", ARG_OPTIONAL, 'K' },
  { "label", ARG_NONE, 'l' },
  { "licenses", ARG_REQUIRED, 'L' },
  { "mail-type", ARG_REQUIRED, '\0' },
  { "mail-user", ARG_REQUIRED, '\0' },
  { "mcs-label", ARG_REQUIRED, '\0' },
  { "mem", ARG_REQUIRED, '\0' },
  { "mem-bind", ARG_REQUIRED, '\0' },
  { "mem-per-cpu", ARG_REQUIRED, '\0' },
  { "mem-per-gpu", ARG_REQUIRED, '\0' },
  { "mincpus", ARG_REQUIRED, '\0' },
  { "mpi", ARG_REQUIRED, '\0' },
  { "msg-timeout", ARG_REQUIRED, '\0' },
  { "multi-prog", ARG_NONE, '\0' },
  { "network", ARG_REQUIRED, '\0' },
  { "nice", ARG_OPTIONAL, '\0' },
  { "no-allocate", ARG_NONE, 'Z' },
  { "no-kill", ARG_OPTIONAL, 'k' },
  { "nodefile", ARG_REQUIRED, 'F' },
  { "nodelist", ARG_REQUIRED, 'w' },
  { "nodes", ARG_REQUIRED, 'N' },
  { "ntasks", ARG_REQUIRED, 'n' },
  { "ntasks-per-core", ARG_REQUIRED, '\0' },
  { "ntasks-per-gpu", ARG_REQUIRED, '\0' },
  { "ntasks-per-node", ARG_REQUIRED, '\0' },
  { "ntasks-per-socket", ARG_REQUIRED, '\0' },
  { "oom-kill-step", ARG_OPTIONAL, '\0' },
  { "open-mode", ARG_REQUIRED, '\0' },
  { "output", ARG_REQUIRED, 'o' },
  { "overcommit", ARG_NONE, 'O' },
  { "overlap", ARG_NONE, '\0' },
  { "oversubscribe", ARG_NONE, 's' },
  { "partition", ARG_REQUIRED, 'p' },
  { "power", ARG_REQUIRED, '\0' },
  { "prefer", ARG_REQUIRED, '\0' },
  { "preserve-env", ARG_NONE, 'E' },
  { "priority", ARG_REQUIRED, '\0' },
  { "profile", ARG_REQUIRED, '\0' },
  { "prolog", ARG_REQUIRED, '\0' },
  { "propagate", ARG_OPTIONAL, '\0' },
  { "pty", ARG_NONE, '\0' },
  { "qos", ARG_REQUIRED, 'q' },
  { "quiet", ARG_NONE, 'Q' },
  { "quit-on-interrupt", ARG_NONE, '\0' },
  { "reboot", ARG_NONE, '\0' },
  { "relative", ARG_REQUIRED, 'r' },
  { "reservation", ARG_REQUIRED, '\0' },
  { "resv-ports", ARG_OPTIONAL, '\0' },
  { "segment", ARG_REQUIRED, '\0' },
  { "send-libs", ARG_OPTIONAL, '\0' },
  { "signal", ARG_REQUIRED, '\0' },
  { "slurmd-debug", ARG_REQUIRED, '\0' },
  { "sockets-per-node", ARG_REQUIRED, '\0' },
  { "spread-job", ARG_NONE, '\0' },
  { "switches", ARG_REQUIRED, '\0' },
  { "task-epilog", ARG_REQUIRED, '\0' },
  { "task-prolog", ARG_REQUIRED, '\0' },
  { "test-only", ARG_NONE, '\0' },
  { "thread-spec", ARG_REQUIRED, '\0' },
  { "threads", ARG_REQUIRED, 'T' },
  { "threads-per-core", ARG_REQUIRED, '\0' },
  { "time", ARG_REQUIRED, 't' },
  { "time-min", ARG_REQUIRED, '\0' },
  { "tmp", ARG_REQUIRED, '\0' },
  { "tres-bind", ARG_REQUIRED, '\0' },
  { "tres-per-task", ARG_REQUIRED, '\0' },
  { "uid", ARG_REQUIRED, '\0' },
  { "unbuffered", ARG_NONE, 'u' },
  { "usage", ARG_NONE, '\0' },
  { "use-min-nodes", ARG_NONE, '\0' },
  { "verbose", ARG_NONE, 'v' },
  { "version", ARG_NONE, 'V' },
  { "wait", ARG_REQUIRED, 'W' },
  { "wckey", ARG_REQUIRED, '\0' },
  { "x11", ARG_OPTIONAL, '\0' },
};
const int srun_noptions = (int)(sizeof srun_options / sizeof srun_options[0]);

static int pass(struct srun_parse *r, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(r->reason, sizeof r->reason, fmt, ap);
  va_end(ap);
  r->pass = 1;
  return 0;
}

/* srun runs as given in these modes. */
static int passing(const char *name) {
  return !strcmp(name, "help") || !strcmp(name, "usage") || !strcmp(name, "version") ||
         !strcmp(name, "test-only") || !strcmp(name, "multi-prog");
}

/* The option named (exactly, or by a unique prefix) name[0..n); NULL after pass(). */
static const struct srun_option *find_long(struct srun_parse *r, const char *name, size_t n) {
  const struct srun_option *found = NULL;
  int prefixed = 0;
  for (int i = 0; i < srun_noptions; i++) {
    const char *o = srun_options[i].name;
    if (strncmp(o, name, n) != 0) continue;
    if (o[n] == 0) return &srun_options[i];
    found = &srun_options[i];
    prefixed++;
  }
  if (prefixed == 1) return found;
  pass(r, "%s option --%.*s", prefixed ? "ambiguous" : "unknown", (int)n, name);
  return NULL;
}

static const struct srun_option *find_short(char c) {
  for (int i = 0; i < srun_noptions; i++) if (srun_options[i].letter == c) return &srun_options[i];
  return NULL;
}

int srun_parse(char *const argv[], struct srun_parse *r) {
  memset(r, 0, sizeof *r);
  int i = argv[0] ? 1 : 0, cut = -1;
  for (; argv[i]; i++) {
    const char *w = argv[i];
    if (!strcmp(w, "--")) { cut = i++; break; }
    if (w[0] != '-' || w[1] == 0) break;
    if (w[1] == '-') {
      const char *eq = strchr(w, '=');
      size_t n = eq ? (size_t)(eq - w - 2) : strlen(w + 2);
      const struct srun_option *o = find_long(r, w + 2, n);
      if (!o) return 0;
      if (passing(o->name)) return pass(r, "--%s", o->name);
      if (o->arg == ARG_NONE && eq) return pass(r, "--%s takes no value", o->name);
      if (o->arg == ARG_REQUIRED && !eq) {
        if (!argv[i + 1]) return pass(r, "--%s without its value", o->name);
        i++;
      }
      continue;
    }
    for (int k = 1; w[k]; k++) {
      const struct srun_option *o = find_short(w[k]);
      if (!o) return pass(r, "unknown option -%c", w[k]);
      if (passing(o->name)) return pass(r, "--%s", o->name);
      if (o->arg == ARG_NONE) continue;
      if (o->arg == ARG_REQUIRED && !w[k + 1]) {
        if (!argv[i + 1]) return pass(r, "-%c without its value", w[k]);
        i++;
      }
      break;
    }
  }
  if (!argv[i]) return pass(r, "no command");
  r->options_end = cut >= 0 ? cut : i;
  r->command = i;
  return 0;
}
