/* `stasis command` without Node: the protocol's command connection
 * (docs/protocol.md) and the same output as src/cli/command.ts, text or
 * --json. Left to Node, before anything is sent: --checkpoint with stderr on
 * a terminal (its progress line), every error found before the command is
 * sent (Node finds it again and says it in its words), a status it cannot
 * read. After it is sent, the reply is printed here, an ERROR as the CLI
 * prints it (`stasis: MESSAGE`, exit 2). */
#include "front.h"
#include "json.h"
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_LINE (64 * 1024)
#define MAX_SAFE 9007199254740991LL

struct conn { int fd; char buf[MAX_LINE + 1]; size_t len; };

static int dial(const char *host, int port) {
  struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res;
  char service[16];
  snprintf(service, sizeof service, "%d", port);
  if (getaddrinfo(host, service, &hints, &res)) return -1;
  int s = -1;
  for (struct addrinfo *a = res; a && s < 0; a = a->ai_next) {
    s = socket(a->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (s >= 0 && connect(s, a->ai_addr, a->ai_addrlen)) { close(s); s = -1; }
  }
  freeaddrinfo(res);
  return s;
}

static int send_line(struct conn *c, const char *line) {
  size_t n = strlen(line), done = 0;
  while (done < n) {
    ssize_t w = send(c->fd, line + done, n - done, MSG_NOSIGNAL);
    if (w <= 0) return -1;
    done += (size_t)w;
  }
  return 0;
}

/* The next line, its newline dropped; NULL at the end, *why as readLines says it. */
static char *next_line(struct conn *c, const char **why) {
  for (;;) {
    char *nl = memchr(c->buf, '\n', c->len);
    if (nl) {
      *nl = 0;
      char *line = strdup(c->buf);
      c->len -= (size_t)(nl + 1 - c->buf);
      memmove(c->buf, nl + 1, c->len);
      return line;
    }
    if (c->len >= MAX_LINE) { *why = "line too long"; return NULL; }
    ssize_t r = recv(c->fd, c->buf + c->len, MAX_LINE - c->len, 0);
    if (r > 0) { c->len += (size_t)r; continue; }
    if (r < 0 && errno == EINTR) continue;
    *why = r < 0 && errno == ECONNRESET ? "read ECONNRESET" : "connection closed";
    return NULL;
  }
}

static int hexval(char c) {
  return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* decodeArg: %XX back to bytes. */
static char *decode(const char *s) {
  char *out = malloc(strlen(s) + 1), *o = out;
  for (; out && *s; s++) {
    if (*s == '%' && hexval(s[1]) >= 0 && hexval(s[2]) >= 0) { *o++ = (char)(hexval(s[1]) * 16 + hexval(s[2])); s += 2; }
    else *o++ = *s;
  }
  if (o) *o = 0;
  return out;
}

/* line.split(' ')[i], or "" (cuts line). */
static char *word(char *line, int i) {
  char *w = line;
  for (; i > 0 && w; i--) if ((w = strchr(w, ' '))) w++;
  if (!w) return "";
  char *end = strchr(w, ' ');
  if (end) *end = 0;
  return w;
}

static _Noreturn void fail(const char *msg) {
  /* The CLI's fail(): one line, runs of whitespace around newlines made one space. */
  fputs("stasis: ", stderr);
  for (const char *p = msg; *p; p++) {
    if (*p == '\n' || ((*p == ' ' || *p == '\t' || *p == '\r') && strchr(p, '\n') && p[strspn(p, " \t\r\v\f")] == '\n')) {
      p += strspn(p, " \t\r\v\f\n") - 1;
      fputc(' ', stderr);
    } else fputc(*p, stderr);
  }
  fputc('\n', stderr);
  exit(2);
}

/* JSON.stringify of a string. */
static void json_string(const char *s) {
  putchar('"');
  for (; *s; s++) {
    unsigned char c = (unsigned char)*s;
    if (c == '"' || c == '\\') printf("\\%c", c);
    else if (c == '\n') fputs("\\n", stdout);
    else if (c == '\r') fputs("\\r", stdout);
    else if (c == '\t') fputs("\\t", stdout);
    else if (c == '\b') fputs("\\b", stdout);
    else if (c == '\f') fputs("\\f", stdout);
    else if (c < 0x20) printf("\\u%04x", c);
    else putchar(c);
  }
  putchar('"');
}

/* String(v) of a status field as the template literal prints it; 0 if not a string or number. */
static int text(const struct json *v, char *out, size_t cap) {
  if (v && v->type == J_STR) return snprintf(out, cap, "%s", v->str), 1;
  if (v && v->type == J_NUM) return js_number(v->num, out, cap), 1;
  return 0;
}

/* The human status line (command.ts); 0 when the object is not as expected. */
static int print_status(const char *json_text) {
  struct json *s = json_parse(json_text);
  char state[4096], procs[64], gen[64], interval[64], dir[4096], last[4200] = "";
  const struct json *clients = json_get(s, "clients"), *lc = json_get(s, "lastCheckpoint");
  int ok = s && s->type == J_OBJ && text(json_get(s, "state"), state, sizeof state) && text(json_get(s, "processes"), procs, sizeof procs)
    && text(json_get(s, "generation"), gen, sizeof gen) && text(json_get(s, "interval"), interval, sizeof interval)
    && text(json_get(s, "ckptDir"), dir, sizeof dir) && clients && clients->type == J_ARR;
  if (ok && lc && lc->type == J_OBJ) {
    const struct json *g = json_get(lc, "generation"), *c = json_get(lc, "committed"), *r = json_get(lc, "reason");
    char gs[64] = "", reason[4096];
    int gnum = g && g->type == J_NUM && g->num == (long long)g->num && g->num >= 0 && g->num < 1e15;
    ok = c && c->type == J_BOOL && (!g || g->type == J_NULL || gnum);
    if (ok && c->num) {
      ok = gnum;
      if (ok) snprintf(last, sizeof last, "; last checkpoint: gen-%06lld committed", (long long)g->num);
    } else if (ok) {
      ok = text(r, reason, sizeof reason);
      if (gnum && g->num != 0) snprintf(gs, sizeof gs, " (generation %lld)", (long long)g->num);
      if (ok) snprintf(last, sizeof last, "; last checkpoint%s failed: %s", gs, reason);
    }
  } else if (ok && lc && lc->type != J_NULL) ok = 0;
  size_t cap = 64;
  char *list = NULL;
  for (size_t i = 0; ok && i < clients->n; i++) cap += 8200;
  if (ok && !(list = calloc(1, cap))) ok = 0;
  for (size_t i = 0, o = 0; ok && i < clients->n; i++) {
    char name[4096], pid[64], host[4096];
    const struct json *c = clients->items[i];
    ok = text(json_get(c, "name"), name, sizeof name) && text(json_get(c, "pid"), pid, sizeof pid) && text(json_get(c, "host"), host, sizeof host);
    if (ok) o += (size_t)snprintf(list + o, cap - o, "%s%s[%s]@%s", i ? " " : "", name, pid, host);
  }
  if (ok) printf("%s: %s process(es), generation %s, interval %s s, %s%s%s%s\n", state, procs, gen, interval, dir,
                 list[0] ? " \xe2\x80\x94 " : "", list, last);
  free(list);
  json_free(s);
  return ok;
}

_Noreturn void fast_command(int argc, char **argv) {
  const char *coord = NULL, *ckpt_dir = NULL, *token_file = NULL, *interval = NULL;
  int checkpoint = 0, status = 0, kill = 0, quit = 0, json = 0;
  static const char *valued[] = { "--coord", "--ckpt-dir", "--token-file", "--interval", NULL };
  const char **slot[] = { &coord, &ckpt_dir, &token_file, &interval };
  static const char *flags[] = { "--checkpoint", "--status", "--kill", "--quit", "--json", NULL };
  int *flag[] = { &checkpoint, &status, &kill, &quit, &json };
  for (int i = 0; i < argc; i++) {
    int k;
    for (k = 0; flags[k] && strcmp(argv[i], flags[k]); k++) {}
    if (flags[k]) {
      if (*flag[k]) to_node("an option given twice");
      *flag[k] = 1;
      continue;
    }
    for (k = 0; valued[k] && strcmp(argv[i], valued[k]); k++) {}
    if (!valued[k]) to_node("an option the fast path does not take");
    if (*slot[k]) to_node("an option given twice");
    if (i + 1 >= argc || !*argv[i + 1] || argv[i + 1][0] == '-') to_node("an option without its value");
    *slot[k] = argv[++i];
  }
  long long secs = interval ? parse_whole(interval, MAX_SAFE) : 0;
  if (secs < 0) to_node("a bad number");
  if (checkpoint + status + kill + quit + !!interval != 1) to_node("not exactly one command");
  if (checkpoint && isatty(2)) to_node("a checkpoint's progress on a terminal");
  /* client.ts locate() */
  char *host = NULL, *token = NULL;
  int port = 0;
  const char *sc = getenv("STASIS_COORD");
  if (!coord && sc && *sc) coord = sc;
  if (coord && !ckpt_dir) {
    const char *st = getenv("STASIS_TOKEN");
    token = token_file ? read_token(token_file) : st && *st ? strdup(st) : NULL;
    if (!token) to_node("no token");
    /* parseAddress: ^\[?([^\]]*?)\]?:(\d+)$ */
    const char *h = coord[0] == '[' ? coord + 1 : coord, *colon = strrchr(h, ':');
    long long p = colon ? parse_whole(colon + 1, 65535) : -1;
    size_t hl = colon ? (size_t)(colon - h) : 0;
    if (hl && h[hl - 1] == ']') hl--;
    if (p <= 0 || !hl || memchr(h, ']', hl)) to_node("a bad coordinator address (Node says so)");
    host = strndup(h, hl);
    port = (int)p;
  } else {
    const char *cd = getenv("STASIS_CKPT_DIR");
    char *dir = resolve_path(ckpt_dir ? ckpt_dir : cd && *cd ? cd : "stasis-ckpt");
    if (!dir || !live_coordinator(dir, &host, &port)) to_node("no coordinator running for the directory (Node says why)");
    char *tf = token_file ? strdup(token_file) : join_path(dir, "token");
    token = read_token(tf);
    if (!token) to_node("the token (Node says why)");
  }
  static struct conn c;
  if ((c.fd = dial(host, port)) < 0) to_node("the coordinator cannot be reached (Node says so)");
  char *hello = malloc(strlen(token) + 32);
  sprintf(hello, "HELLO 1 %s cmd\n", token);
  const char *why = NULL;
  char *welcome = send_line(&c, hello) ? NULL : next_line(&c, &why);
  if (!welcome || strncmp(welcome, "WELCOME ", 8)) to_node("the coordinator refused us (Node says why)");
  char *dir = decode(word(welcome, 2));
  char request[64];
  snprintf(request, sizeof request, "%s\n", checkpoint ? "CHECKPOINT" : status ? "STATUS" : kill ? "KILL" : quit ? "QUIT" : "INTERVAL");
  if (interval) snprintf(request, sizeof request, "INTERVAL %lld\n", secs);
  if (send_line(&c, request)) to_node("the coordinator closed the connection before the command");
  char *reply = next_line(&c, &why);
  if (!reply) {
    char msg[128];
    snprintf(msg, sizeof msg, "the coordinator closed the connection (%s)", why);
    fail(msg);
  }
  /* A reply too long for one line comes in pieces: "VERB+ piece"..., then "VERB last". */
  size_t vl = strspn(reply, "ABCDEFGHIJKLMNOPQRSTUVWXYZ_");
  while (vl && !strncmp(reply + vl, "+ ", 2)) {
    char *more = next_line(&c, &why);
    if (!more) {
      char msg[128];
      snprintf(msg, sizeof msg, "the coordinator closed the connection (%s)", why);
      fail(msg);
    }
    int last = !strncmp(more, reply, vl) && more[vl] == ' ';
    if (!last && !(strncmp(more, reply, vl) == 0 && !strncmp(more + vl, "+ ", 2))) fail("the coordinator broke off its answer");
    char *joined = malloc(strlen(reply) + strlen(more) + 1);
    if (!joined) fail("out of memory");
    sprintf(joined, "%.*s%s%s", (int)vl, reply, last ? " " : "+ ", reply + vl + 2);
    strcat(joined, more + vl + (last ? 1 : 2));
    free(reply);
    free(more);
    reply = joined;
  }
  if (!strcmp(reply, "ERROR") || !strncmp(reply, "ERROR ", 6)) fail(decode(reply[5] ? reply + 6 : ""));
  shutdown(c.fd, SHUT_WR);
  if (checkpoint) {
    /* CHECKPOINTED G BYTES SECONDS */
    char *w[4] = { 0 }, *save = NULL;
    w[0] = strtok_r(reply, " ", &save);
    for (int i = 1; i < 4 && w[i - 1]; i++) w[i] = strtok_r(NULL, " ", &save);
    double g = w[1] ? strtod(w[1], NULL) : 0, bytes = w[2] ? strtod(w[2], NULL) : 0, seconds = w[3] ? strtod(w[3], NULL) : 0;
    char gname[64], b[64], s[64];
    snprintf(gname, sizeof gname, "gen-%06lld", (long long)g);
    js_number(bytes, b, sizeof b);
    if (json) {
      char gs[64];
      js_number(g, gs, sizeof gs);
      js_number(seconds, s, sizeof s);
      char *full = join_path(dir, gname);
      printf("{\"generation\":%s,\"dir\":", gs);
      json_string(full);
      printf(",\"bytes\":%s,\"seconds\":%s}\n", b, s);
    } else {
      js_fixed2(seconds, s, sizeof s);
      printf("%s %s bytes %s s\n", gname, b, s);
    }
  } else if (status) {
    char *obj = decode(word(reply, 1));
    if (json) printf("%s\n", obj);
    else if (!print_status(obj)) { close(c.fd); to_node("a status the fast path cannot read"); }
  } else if (interval) {
    printf(json ? "{\"interval\":%lld}\n" : "interval set to %lld s\n", secs);
  } else if (json) puts("{\"ok\":true}");
  else puts(kill ? "killed every process" : "killed every process; coordinator exits");
  close(c.fd);
  exit(fflush(stdout) == 0 ? 0 : 1);
}
