/* An MPI job whose output depends on every message: each step a ring
 * exchange, an allreduce, and a storm of point-to-point messages of
 * varying sizes between every pair of ranks, folded into a checksum.
 * argv[1]: steps (default 300); each step ends with a sleep of argv[3] µs
 * (default 20000; 0 measures the transports alone). Rank 0
 * prints "step N sum S" every argv[2] steps (default 20) and "done S" at the end: a run
 * interrupted by checkpoints and restarts must print what an uninterrupted
 * one does. */
#include <mpi.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define MAXLEN 4096

static uint64_t mix(uint64_t h, uint64_t v) { return (h ^ v) * 0x100000001b3ull; }

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  int rank, size;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  int steps = argc > 1 ? atoi(argv[1]) : 300;
  int every = argc > 2 && atoi(argv[2]) > 0 ? atoi(argv[2]) : 20;
  int pause_us = argc > 3 ? atoi(argv[3]) : 20000;
  uint64_t sum = 0xcbf29ce484222325ull;
  static uint32_t out[64][MAXLEN], in[64][MAXLEN];
  if (size > 64) MPI_Abort(MPI_COMM_WORLD, 2);
  for (int step = 0; step < steps; step++) {
    /* Ring. */
    uint64_t token = mix(sum, (uint64_t)rank), got = 0;
    MPI_Sendrecv(&token, 1, MPI_UINT64_T, (rank + 1) % size, 1, &got, 1, MPI_UINT64_T, (rank + size - 1) % size, 1,
                 MPI_COMM_WORLD, MPI_STATUS_IGNORE);
    /* Allreduce of what came round. */
    uint64_t all = 0;
    MPI_Allreduce(&got, &all, 1, MPI_UINT64_T, MPI_BXOR, MPI_COMM_WORLD);
    sum = mix(sum, all);
    /* Storm: to every other rank a message whose length and contents depend on step and pair. */
    MPI_Request req[128];
    int n = 0;
    for (int peer = 0; peer < size; peer++) {
      if (peer == rank) continue;
      int len = 1 + (int)((step * 131u + (unsigned)rank * 17u + (unsigned)peer * 7u) % MAXLEN);
      for (int i = 0; i < len; i++) out[peer][i] = (uint32_t)(step * 2654435761u) ^ (uint32_t)(rank * 40503u + peer * 977u + i);
      MPI_Isend(out[peer], len, MPI_UINT32_T, peer, 2, MPI_COMM_WORLD, &req[n++]);
      MPI_Irecv(in[peer], MAXLEN, MPI_UINT32_T, peer, 2, MPI_COMM_WORLD, &req[n++]);
    }
    static MPI_Status st[128];   /* not MPI_STATUSES_IGNORE: MPICH's header trips gcc's -Wstringop-overflow */
    MPI_Waitall(n, req, st);
    uint64_t local = 0;
    for (int peer = 0; peer < size; peer++) {
      if (peer == rank) continue;
      int len = 1 + (int)((step * 131u + (unsigned)peer * 17u + (unsigned)rank * 7u) % MAXLEN);
      for (int i = 0; i < len; i++) local = mix(local, in[peer][i]);
    }
    MPI_Allreduce(&local, &all, 1, MPI_UINT64_T, MPI_BXOR, MPI_COMM_WORLD);
    sum = mix(sum, all);
    if (rank == 0 && step % every == 0) { printf("step %d sum %016llx\n", step, (unsigned long long)sum); fflush(stdout); }
    if (pause_us > 0) usleep((useconds_t)pause_us);
  }
  if (rank == 0) { printf("done %016llx\n", (unsigned long long)sum); fflush(stdout); }
  MPI_Finalize();
  return 0;
}
