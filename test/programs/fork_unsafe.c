/* Memory a copy of the process would not hold: a region marked
 * MADV_DONTFORK (absent from a fork's copy) or MADV_WIPEONFORK (zero
 * there). Each tick adds one to a counter in that region and checks it
 * against its own copy in ordinary memory: after a restart both must
 * continue together, else BROKEN. argv[1]: dontfork or wipeonfork; argv[2]
 * "raw": by the system call itself, which no libc wrapper sees. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv) {
  const char *kind = argc > 1 ? argv[1] : "dontfork";
  setvbuf(stdout, NULL, _IOLBF, 0);
  long *counter = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (counter == MAP_FAILED) { perror("mmap"); return 1; }
  int advice = strcmp(kind, "wipeonfork") == 0 ? MADV_WIPEONFORK : MADV_DONTFORK;
  int raw = argc > 2 && strcmp(argv[2], "raw") == 0;
  if ((raw ? syscall(SYS_madvise, counter, 1 << 20, advice) : madvise(counter, 1 << 20, advice)) < 0) {
    perror("madvise");
    return 1;
  }
  for (long mine = 0;; mine++) {
    if (*counter != mine) { printf("BROKEN the %s counter is %ld, expected %ld\n", kind, *counter, mine); return 1; }
    ++*counter;
    printf("tick %ld\n", mine);
    struct timespec ts = { 0, 20 * 1000000 };
    while (nanosleep(&ts, &ts) == -1 && errno == EINTR) {}
  }
}
