/* Where a restored process starts: the loader has mapped the image back,
 * set FS to the main thread's TLS and switched to restart_stack, then calls
 * stasis_restart_entry. It rebuilds the threads and returns the main thread
 * into its suspend handler; the checkpoint thread does the rest. */
#include "core.h"
#include "path_map.h"
#include <sys/mman.h>

struct restart_info stasis_restart_info;
static char restart_stack[64 * 1024] __attribute__((aligned(16)));

void *stasis_restart_stack_top(void) { return restart_stack + sizeof restart_stack; }

__attribute__((noreturn)) void stasis_restart_entry(struct restart_info *info) {
  if (info->loader_end > info->loader_start)
    munmap((void *)info->loader_start, info->loader_end - info->loader_start);
  stasis_restored++;
  threads_recreate();
  ctx_jump(&threads_main()->ctx, 1);
}

API const char *stasis_restore_path(const char *saved, char *buf, unsigned long cap) {
  return path_map_apply(stasis_restart_info.path_map, saved, buf, cap);
}
