/* stasis-relay: ssh, rsh and srun inside a job (docs/user-guide.md,
 * "ssh and srun inside a job").
 *   --local CLIENT ARGV...   in the job, in place of the client (relay_local.c)
 *   --remote ...             started by the real client on the other side, outside the job (relay_remote.c)
 *   --inside ...             the remote side's part in the job (relay_remote.c)
 * Each remote task opens four TCP connections back to the local relay,
 * each starting with a header of HEADER_LEN bytes,
 * "STASIS-RELAY ID RANK ROLE" padded with spaces (ROLE: in, out, err,
 * ctl); on ctl it reports "EXIT N\n" or "SIGNAL N\n" when the command ends. */
#ifndef STASIS_RELAY_H
#define STASIS_RELAY_H
#include <stddef.h>
#include <sys/types.h>

#define HEADER_LEN 64
/* The remote side's status when it cannot run there (no stasis-relay at
 * this path, no token): the local side runs the client as given instead. */
#define NOT_HERE 121
enum role { ROLE_IN, ROLE_OUT, ROLE_ERR, ROLE_CTL, NROLES };
extern const char *const role_names[NROLES];

int relay_local(int argc, char **argv);
int relay_remote(int argc, char **argv);
int relay_inside(int argc, char **argv);

/* relay.c */
void die(int status, const char *fmt, ...) __attribute__((format(printf, 2, 3), noreturn));
int write_all(int fd, const void *buf, size_t len);
int read_full(int fd, void *buf, size_t len);
#endif
