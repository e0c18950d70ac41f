/* memfds that must come back whole:
 *  M  "stasis-test", 256 KiB of a pattern, sealed against shrinking and
 *     growing, read sequentially (its offset moves) and patched in place,
 *  R  a second, read-only description of M (through /proc): sees M's patches,
 *  U  a memfd without sealing, appended to (O_APPEND) every tick.
 * Prints "tick N"; "BROKEN ..." when contents, size, seals, name or offset differ. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define SIZE (256 * 1024)
static void broken(const char *m) { printf("BROKEN %s\n", m); fflush(stdout); }
static char pattern(long i) { return (char)('a' + (i * 7 + i / 4096) % 26); }

int main(void) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  int m = memfd_create("stasis-test", MFD_ALLOW_SEALING);
  int u = memfd_create("unsealed", MFD_CLOEXEC);
  if (m < 0 || u < 0) { perror("memfd_create"); return 1; }
  static char buf[SIZE];
  for (long i = 0; i < SIZE; i++) buf[i] = pattern(i);
  if (write(m, buf, SIZE) != SIZE || fcntl(m, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW) < 0) { perror("fill"); return 1; }
  lseek(m, 1000, SEEK_SET);
  char proc[64];
  snprintf(proc, sizeof proc, "/proc/self/fd/%d", m);
  int r = open(proc, O_RDONLY);
  if (r < 0 || fcntl(u, F_SETFL, O_APPEND) < 0) { perror("open"); return 1; }
  long pos = 1000, patched = 0;
  char msg[160];
  for (long tick = 0;; tick++) {
    /* M: the next 64 bytes at its own offset. */
    char got[64];
    if (read(m, got, 64) != 64) broken("M read");
    for (int i = 0; i < 64; i++) {
      long at = pos + i;
      char want = at < patched * 4096 && at % 4096 == 0 ? 'Z' : pattern(at);
      if (got[i] != want) { snprintf(msg, sizeof msg, "M byte %ld is %c, expected %c", at, got[i], want); broken(msg); break; }
    }
    pos += 64;
    if (pos + 64 > SIZE) { pos = 0; lseek(m, 0, SEEK_SET); }
    if (lseek(m, 0, SEEK_CUR) != pos) broken("M offset moved");
    /* Patch one page start a tick; R must see every patch so far. */
    if (patched < SIZE / 4096) { if (pwrite(m, "Z", 1, patched * 4096) != 1) broken("M patch"); patched++; }
    for (long p = 0; p < patched; p++) {
      char c;
      if (pread(r, &c, 1, p * 4096) != 1 || c != 'Z') { snprintf(msg, sizeof msg, "R does not see patch %ld", p); broken(msg); break; }
    }
    if (write(r, "x", 1) != -1) broken("R became writable");
    struct stat st;
    if (fstat(m, &st) || st.st_size != SIZE) broken("M size changed");
    if (fcntl(m, F_GET_SEALS) != (F_SEAL_SHRINK | F_SEAL_GROW)) broken("M seals changed");
    if (ftruncate(m, SIZE / 2) != -1) broken("M shrank despite F_SEAL_SHRINK");
    char link[256] = "";
    snprintf(proc, sizeof proc, "/proc/self/fd/%d", m);
    if (readlink(proc, link, sizeof link - 1) < 0 || strncmp(link, "/memfd:stasis-test", 18) != 0) { snprintf(msg, sizeof msg, "M name is %.100s", link); broken(msg); }
    /* U: one line per tick, all there. */
    char line[32];
    int n = snprintf(line, sizeof line, "%015ld\n", tick);
    lseek(u, 0, SEEK_SET);
    if (write(u, line, n) != n) broken("U append");
    if (fstat(u, &st) || st.st_size != (tick + 1) * 16) { snprintf(msg, sizeof msg, "U has %ld bytes after %ld ticks", (long)st.st_size, tick + 1); broken(msg); }
    else {
      char first[17] = "", last[17] = "";
      if (pread(u, first, 16, 0) != 16 || pread(u, last, 16, tick * 16) != 16 || strncmp(first, "000000000000000\n", 16) || strncmp(last, line, 16)) broken("U contents");
    }
    if (fcntl(u, F_GET_SEALS) != F_SEAL_SEAL || !(fcntl(u, F_GETFD) & FD_CLOEXEC) || !(fcntl(u, F_GETFL) & O_APPEND)) broken("U flags or seals changed");
    printf("tick %ld\n", tick);
    struct timespec ts = { 0, 100000000 };
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR) {}
  }
}
