/* A libpq connection that survives checkpoints and restarts (see
 * pg_reconnect.c). Use the connection only inside stasis_delay_begin() /
 * stasis_delay_end(): no checkpoint happens there, and sections wait while
 * the connection is closed or being reopened. */
#ifndef PG_RECONNECT_H
#define PG_RECONNECT_H
#include <libpq-fe.h>

/* Connects (0, or -1 with the reason on stderr) and registers the plugin. */
int pgr_open(const char *conninfo);
/* Prepares a statement now and again after every reconnection. */
int pgr_prepare(const char *name, const char *sql, int nparams);
/* The current connection (it changes at each checkpoint and restart). */
PGconn *pgr_conn(void);
/* The connection's backend as a virtual id (stasis_vid_*): the same number
 * for the life of the program, whichever backend serves it now (the real
 * pid is PQbackendPID(pgr_conn())). Without stasis, the real pid. */
long pgr_backend(void);
#endif
