/* Example plugin: virtual ids for numbers a service outside the job gives
 * (session_server.py here; a resource manager's or a database's ids in
 * real life). The program keeps the id sess_open() returns. Under stasis
 * that is a virtual id (stasis_vid_new, table "sessions"), and every call
 * turns it into the service's current number (stasis_vid_real). In a
 * process restored from a checkpoint the service may have restarted and
 * forgotten every session: at RESTARTED the plugin opens each one again,
 * by name, and tells the table its new number (stasis_vid_set); the
 * program's ids do not change. Each call is a delayed section: it waits
 * until that is done, and no checkpoint comes while a request is on its
 * way (the socket to the service is not the job's). Without stasis the
 * ids are the service's own. */
#include "sessions.h"
#include <stasis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define TABLE "sessions"
#define MAX_SESSIONS 64
static struct { long id; char name[32]; } sessions[MAX_SESSIONS];
static int nsessions;
static char socket_path[108];

/* One request, one reply line (no newline) into `reply`: 0, or -1. */
static int ask(const char *request, char *reply, size_t cap) {
  struct sockaddr_un sa = { .sun_family = AF_UNIX };
  snprintf(sa.sun_path, sizeof sa.sun_path, "%s", socket_path);
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  size_t n = strlen(request), got = 0;
  if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0 || write(fd, request, n) != (ssize_t)n) { close(fd); return -1; }
  ssize_t r;
  while (got < cap - 1 && (r = read(fd, reply + got, cap - 1 - got)) > 0) got += (size_t)r;
  close(fd);
  reply[got] = 0;
  char *nl = strchr(reply, '\n');
  if (!nl) return -1;
  *nl = 0;
  return 0;
}

/* The service's number for a new session `name`, or -1. */
static long open_at_service(const char *name) {
  char request[64], reply[64];
  snprintf(request, sizeof request, "OPEN %s\n", name);
  if (ask(request, reply, sizeof reply) < 0 || strncmp(reply, "ID ", 3) != 0) return -1;
  return atol(reply + 3);
}

static long open_session(const char *name) {
  if (nsessions == MAX_SESSIONS || strlen(name) >= sizeof sessions[0].name) return -1;
  long real = open_at_service(name);
  if (real < 0) return -1;
  long id = stasis_vid_new(TABLE, real);
  if (id == STASIS_ERR_NOT_ENABLED) id = real;   /* no stasis: nothing will move */
  if (id < 0) return -1;
  sessions[nsessions].id = id;
  snprintf(sessions[nsessions++].name, sizeof sessions[0].name, "%s", name);
  return id;
}

long sess_open(const char *name) {
  stasis_delay_begin();
  long id = open_session(name);
  stasis_delay_end();
  return id;
}

long sess_real(long id) {
  long real = stasis_vid_real(TABLE, id);
  return real == STASIS_ERR_NOT_ENABLED ? id : real;
}

static int name_of(long id, char *buf, unsigned long cap) {
  char request[64], reply[64];
  long real = sess_real(id);
  if (real < 0) return -1;
  snprintf(request, sizeof request, "NAME %ld\n", real);
  if (ask(request, reply, sizeof reply) < 0) return -1;
  snprintf(buf, cap, "%s", reply);
  return strncmp(reply, "NAME ", 5) == 0 ? 0 : -1;
}

int sess_name(long id, char *buf, unsigned long cap) {
  stasis_delay_begin();
  int rc = name_of(id, buf, cap);
  stasis_delay_end();
  return rc;
}

/* RESTARTED runs beside the program's threads: sockets and stdio are fine. */
static int on_event(enum stasis_event ev) {
  if (ev != STASIS_EVENT_RESTARTED) return 0;
  for (int i = 0; i < nsessions; i++) {
    long real = open_at_service(sessions[i].name);
    if (real < 0) { fprintf(stderr, "sessions: cannot open %s again\n", sessions[i].name); continue; }
    stasis_vid_set(TABLE, sessions[i].id, real);
  }
  return 0;
}

static const struct stasis_plugin plugin = { "sessions", on_event };

__attribute__((constructor)) static void sessions_init(void) {
  const char *p = getenv("SESSIONS_SOCKET");
  snprintf(socket_path, sizeof socket_path, "%s", p ? p : "/tmp/sessions.sock");
  stasis_register_plugin(&plugin);
}
