/* Example: sessions of a service outside the job, under ids that survive
 * a restart (sessions.c). */
#ifndef SESSIONS_H
#define SESSIONS_H

/* The service's socket: $SESSIONS_SOCKET, read once. */
/* Opens a session named `name` (up to 31 bytes): an id for the program
 * to keep, or -1. Under stasis it is a virtual id, the same after a
 * restart; without stasis, the service's own number. */
long sess_open(const char *name);
/* The service's current number for a session id (the real id), or -1. */
long sess_real(long id);
/* Asks the service for the session's name, into buf: 0, or -1. */
int sess_name(long id, char *buf, unsigned long cap);
#endif
