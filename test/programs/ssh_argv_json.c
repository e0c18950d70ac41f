/* The C parse of an ssh, rsh or srun command line as JSON, in the shape of
 * src/ssh (test/ssh/native-agree.test.ts compares the two).
 *   ssh_argv_json ssh|rsh|srun ARGV0 ARGS...
 *   ssh_argv_json --srun-table */
#include "../../native/plugins/ssh/argv.h"
#include <stdio.h>
#include <string.h>

static void str(const char *s) {
  if (!s) { fputs("null", stdout); return; }
  putchar('"');
  for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
    if (*p == '"' || *p == '\\') printf("\\%c", *p);
    else if (*p < 0x20) printf("\\u%04x", *p);
    else putchar(*p);
  }
  putchar('"');
}

static void words(char *const *w, int n) {
  putchar('[');
  for (int i = 0; i < n; i++) { if (i) putchar(','); str(w[i]); }
  putchar(']');
}

static int count(char *const *w) { int n = 0; while (w[n]) n++; return n; }

static void pass(const char *reason) {
  fputs("{\"kind\":\"pass\",\"reason\":", stdout);
  str(reason);
  puts("}");
}

int main(int argc, char **argv) {
  if (argc == 2 && !strcmp(argv[1], "--srun-table")) {
    static const char *const kinds[] = { "none", "required", "optional" };
    putchar('[');
    for (int i = 0; i < srun_noptions; i++) {
      char letter[2] = { srun_options[i].letter, 0 };
      printf("%s[", i ? "," : "");
      str(srun_options[i].name);
      printf(",\"%s\",", kinds[srun_options[i].arg]);
      str(letter);
      putchar(']');
    }
    puts("]");
    return 0;
  }
  if (argc < 3) { fprintf(stderr, "usage: ssh_argv_json ssh|rsh|srun ARGV0 ARGS...\n"); return 2; }
  char **av = argv + 2;
  if (!strcmp(argv[1], "srun")) {
    struct srun_parse s;
    srun_parse(av, &s);
    if (s.pass) { pass(s.reason); return 0; }
    fputs("{\"kind\":\"step\",\"options\":", stdout);
    words(av + 1, s.options_end - 1);
    fputs(",\"command\":", stdout);
    words(av + s.command, count(av + s.command));
    puts("}");
    return 0;
  }
  static struct remote_parse r;
  if (remote_parse(argv[1], av, &r) < 0) { puts("null"); return 0; }
  if (r.pass) { pass(r.reason); return 0; }
  fputs("{\"kind\":\"remote\",\"user\":", stdout);
  str(r.user);
  fputs(",\"host\":", stdout);
  str(r.host);
  fputs(",\"port\":", stdout);
  str(r.port);
  fputs(",\"options\":", stdout);
  words((char *const *)r.options, r.noptions);
  printf(",\"stdinNull\":%s,\"command\":", r.stdin_null ? "true" : "false");
  words(av + r.command, count(av + r.command));
  puts("}");
  return 0;
}
