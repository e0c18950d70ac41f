/* Example plugin: a libpq client across checkpoints. A TCP or Unix socket
 * to a database server cannot be saved in an image (the server's end is
 * not the job's), so the plugin closes the connection before each
 * checkpoint (PRECHECKPOINT: threads run, malloc and libpq are fine) and
 * opens it again afterwards — in the same process (POSTCHECKPOINT) or in a
 * restored one (RESTARTED), where the server may be another process by
 * now — preparing the statements again. The program's delayed sections
 * wait meanwhile, so it never sees a closed connection. */
#include "pg_reconnect.h"
#include <stasis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_STATEMENTS 16
static struct { char *name, *sql; int nparams; } statements[MAX_STATEMENTS];
static int nstatements;
static char *conninfo;
static PGconn *conn;
static long backend_vid;   /* virtual id of the backend, in the table "pg-backend" */

static int prepare(int i) {
  PGresult *r = PQprepare(conn, statements[i].name, statements[i].sql, statements[i].nparams, NULL);
  int ok = PQresultStatus(r) == PGRES_COMMAND_OK;
  if (!ok) fprintf(stderr, "pg_reconnect: prepare %s: %s", statements[i].name, PQerrorMessage(conn));
  PQclear(r);
  return ok ? 0 : -1;
}

/* A few tries: a server restarted with the job may still be starting. */
static int connect_all(void) {
  for (int attempt = 0; attempt < 50; attempt++) {
    conn = PQconnectdb(conninfo);
    if (PQstatus(conn) == CONNECTION_OK) {
      for (int i = 0; i < nstatements; i++) if (prepare(i) < 0) return -1;
      fprintf(stderr, "pg_reconnect: connected, backend %d\n", PQbackendPID(conn));
      /* Programs keep the virtual id; the table follows the real one. */
      if (backend_vid > 0) stasis_vid_set("pg-backend", backend_vid, PQbackendPID(conn));
      else backend_vid = stasis_vid_new("pg-backend", PQbackendPID(conn));
      return 0;
    }
    PQfinish(conn);
    conn = NULL;
    struct timespec ts = { 0, 200 * 1000000 };
    nanosleep(&ts, NULL);
  }
  fprintf(stderr, "pg_reconnect: cannot connect to %s\n", conninfo);
  return -1;
}

static int on_event(enum stasis_event ev) {
  if (ev == STASIS_EVENT_PRECHECKPOINT) {
    PQfinish(conn);
    conn = NULL;
  } else if (ev == STASIS_EVENT_POSTCHECKPOINT || ev == STASIS_EVENT_RESTARTED) {
    if (connect_all() < 0) exit(75);   /* going on without the database would lose rows */
  }
  return 0;
}

static const struct stasis_plugin plugin = { "pg_reconnect", on_event };

int pgr_open(const char *info) {
  conninfo = strdup(info);
  if (connect_all() < 0) return -1;
  int rc = stasis_register_plugin_for(&plugin, STASIS_EVENT_BIT(STASIS_EVENT_PRECHECKPOINT) |
                                      STASIS_EVENT_BIT(STASIS_EVENT_POSTCHECKPOINT) | STASIS_EVENT_BIT(STASIS_EVENT_RESTARTED));
  if (rc != STASIS_OK && rc != STASIS_ERR_NOT_ENABLED) fprintf(stderr, "pg_reconnect: %s\n", stasis_strerror(rc));
  return 0;
}

int pgr_prepare(const char *name, const char *sql, int nparams) {
  if (nstatements == MAX_STATEMENTS) return -1;
  statements[nstatements].name = strdup(name);
  statements[nstatements].sql = strdup(sql);
  statements[nstatements].nparams = nparams;
  return prepare(nstatements++);
}

PGconn *pgr_conn(void) { return conn; }

long pgr_backend(void) { return backend_vid > 0 ? backend_vid : PQbackendPID(conn); }
