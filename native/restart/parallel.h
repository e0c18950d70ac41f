/* Spreading the loader's work (checksums, decompression) over the CPUs. */
#ifndef STASIS_LOADER_PARALLEL_H
#define STASIS_LOADER_PARALLEL_H
#define PARALLEL_MAX 4

/* How many threads parallel_run uses (1..PARALLEL_MAX): the CPUs this
 * process may run on. */
int parallel_threads(void);

/* Calls job(item, thread, arg) once for every item in 0..n-1, spread over
 * this thread and helpers; thread is 0..parallel_threads()-1 and tells the
 * job which per-thread state to use. Returns when every item is done and
 * every helper has exited. */
void parallel_run(int n, void (*job)(int item, int thread, void *arg), void *arg);
#endif
