/* Giving back what DRAIN took out of the job's TCP connections, when the
 * same processes go on after the checkpoint (committed or not): the two
 * ends of each drained connection swap what they read and send it again
 * (exchange.h), before any thread of the program runs. */
#include "../../core/core.h"
#include "exchange.h"
#include "tcp.h"

#define GIVE_BACK_SECONDS 20

void tcp_give_back(void) {
  static struct exchange x[MAX_TCP];
  static struct tcp_sock *of[MAX_TCP];
  int n = 0;
  for (int i = 0; i < ntcps; i++)
    if (tcps[i].taken == TAKEN_DRAINED) {
      exchange_init(&x[n], tcps[i].fd, tcps[i].in.data, tcps[i].in.len);
      of[n++] = &tcps[i];
    }
  if (exchange_run(x, n, GIVE_BACK_SECONDS) == 0) return;
  for (int k = 0; k < n; k++)
    if (!x[k].done) stasis_log("fd %d (socket:[%llu]): could not give back the bytes in flight: the connection lost some", of[k]->fd, of[k]->ino);
}
