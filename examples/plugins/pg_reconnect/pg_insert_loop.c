/* Inserts rows 0, 1, 2... into rows(id) through pg_reconnect, one every
 * 20 ms, each in a delayed section, printing "inserted N backend PID
 * virtual V" (V: pgr_backend(), the same across reconnections).
 * Inserts are idempotent (ON CONFLICT DO NOTHING): a process restored from
 * a checkpoint redoes the rows its killed predecessor inserted after that
 * checkpoint, and none is doubled or lost.
 * Usage: pg_insert_loop CONNINFO */
#include "pg_reconnect.h"
#include <stasis.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  if (argc < 2 || pgr_open(argv[1]) < 0) return 2;
  PGresult *r = PQexec(pgr_conn(), "CREATE TABLE IF NOT EXISTS rows (id bigint PRIMARY KEY)");
  PQclear(r);
  if (pgr_prepare("ins", "INSERT INTO rows (id) VALUES ($1::bigint) ON CONFLICT DO NOTHING", 1) < 0) return 2;
  for (long id = 0;; id++) {
    char text[32];
    snprintf(text, sizeof text, "%ld", id);
    const char *params[1] = { text };
    stasis_delay_begin();
    r = PQexecPrepared(pgr_conn(), "ins", 1, params, NULL, NULL, 0);
    int ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    if (!ok) fprintf(stderr, "insert %ld: %s", id, PQerrorMessage(pgr_conn()));
    PQclear(r);
    int backend = PQbackendPID(pgr_conn());
    long virt = pgr_backend();
    long real = stasis_vid_real("pg-backend", virt);
    stasis_delay_end();
    if (!ok) return 1;
    if (real >= 0 && real != backend) printf("BROKEN: virtual backend %ld maps to %ld, not %d\n", virt, real, backend);
    printf("inserted %ld backend %d virtual %ld\n", id, backend, virt);
    struct timespec ts = { 0, 20 * 1000000 };
    nanosleep(&ts, NULL);
  }
}
