/* A large MAP_SHARED anonymous object that is almost all zeros (256 MiB,
 * three pages written): a forked child counts in the page at 100 MiB, the
 * parent prints "seen N" with the child's count every 100 ms and checks
 * that the first and last pages still hold their markers and that pages
 * nobody wrote are still zero. Anything else prints "BROKEN ...". */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <unistd.h>

#define SIZE (256ul << 20)
#define TICK (100ul << 20)

static int page_is_zero(const char *p) {
  for (int i = 0; i < 4096; i++) if (p[i]) return 0;
  return 1;
}

int main(void) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  char *m = mmap(NULL, SIZE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (m == MAP_FAILED) { perror("mmap"); return 1; }
  strcpy(m, "first page");
  strcpy(m + SIZE - 4096, "last page");
  volatile long *tick = (volatile long *)(m + TICK);
  pid_t parent = getpid();
  if (fork() == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) return 1;
    for (;;) { (*tick)++; usleep(1000); }
  }
  for (long last = -1;;) {
    usleep(100000);
    long now = *tick;
    if (strcmp(m, "first page") || strcmp(m + SIZE - 4096, "last page")) printf("BROKEN markers lost\n");
    for (unsigned long off = 4096; off < SIZE - 4096; off += 16ul << 20)   /* never TICK's page */
      if (!page_is_zero(m + off + 8192)) printf("BROKEN page at %#lx is not zero\n", off + 8192);
    if (now < last) printf("BROKEN the child's count went back from %ld to %ld\n", last, now);
    printf("seen %ld\n", now);
    last = now;
  }
}
