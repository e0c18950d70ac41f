/* Files deleted while open (in the directory argv[1]):
 *  D  100 KiB of a pattern, read and written at its offset, O_RDWR,
 *  L  a log opened O_WRONLY|O_APPEND (mode 0640), a line per tick,
 *  T  a second, read-only description of the log: reads each line once.
 * Prints "tick N"; "BROKEN ..." when contents, offsets, flags or mode differ. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define SIZE (100 * 1024)
static void broken(const char *m) { printf("BROKEN %s\n", m); fflush(stdout); }
static char pattern(long i) { return (char)('A' + (i * 13 + i / 1000) % 26); }

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  const char *dir = argc > 1 ? argv[1] : "/tmp";
  char dpath[1024], lpath[1024];
  snprintf(dpath, sizeof dpath, "%s/stasis-deleted-data-%d", dir, (int)getpid());
  snprintf(lpath, sizeof lpath, "%s/stasis-deleted-log-%d", dir, (int)getpid());
  int d = open(dpath, O_CREAT | O_RDWR | O_TRUNC, 0600);
  int l = open(lpath, O_CREAT | O_WRONLY | O_APPEND | O_TRUNC | O_CLOEXEC, 0640);
  int t = open(lpath, O_RDONLY);
  if (d < 0 || l < 0 || t < 0) { perror("open"); return 1; }
  fchmod(l, 0640);
  static char buf[SIZE];
  for (long i = 0; i < SIZE; i++) buf[i] = pattern(i);
  if (write(d, buf, SIZE) != SIZE) { perror("write"); return 1; }
  unlink(dpath);
  unlink(lpath);
  lseek(d, 0, SEEK_SET);
  long pos = 0;
  char msg[160];
  for (long tick = 0;; tick++) {
    /* D: read 32 bytes at the offset, overwrite the next 8 with the tick. */
    char got[32];
    if (read(d, got, 32) != 32) broken("D read");
    for (int i = 0; i < 32; i++)
      if (got[i] != pattern(pos + i)) { snprintf(msg, sizeof msg, "D byte %ld differs", pos + i); broken(msg); break; }
    char stamp[24];
    snprintf(stamp, sizeof stamp, "%08ld", tick);
    if (write(d, stamp, 8) != 8) broken("D write");
    char back[8];
    if (pread(d, back, 8, pos + 32) != 8 || memcmp(back, stamp, 8)) broken("D stamp");
    pos += 40;   /* stamped bytes are never read as pattern: every pass steps the same way */
    if (pos + 40 > SIZE) pos = 0;
    if (lseek(d, pos, SEEK_SET) != pos) broken("D seek");
    /* L and T: one line appended, read once. */
    char line[32], rd[32];
    int n = snprintf(line, sizeof line, "line %09ld\n", tick);
    if (write(l, line, n) != n) broken("L write");
    if (read(t, rd, n) != n || memcmp(rd, line, n)) { snprintf(msg, sizeof msg, "T did not read line %ld", tick); broken(msg); }
    struct stat st;
    if (fstat(l, &st) || st.st_nlink != 0 || (st.st_mode & 07777) != 0640 || st.st_size != (tick + 1) * n) {
      snprintf(msg, sizeof msg, "L stat: links %ld mode %o size %ld", (long)st.st_nlink, st.st_mode & 07777, (long)st.st_size);
      broken(msg);
    }
    if (!(fcntl(l, F_GETFL) & O_APPEND) || (fcntl(l, F_GETFL) & O_ACCMODE) != O_WRONLY || !(fcntl(l, F_GETFD) & FD_CLOEXEC)) broken("L flags");
    if ((fcntl(t, F_GETFL) & O_ACCMODE) != O_RDONLY || (fcntl(d, F_GETFL) & O_ACCMODE) != O_RDWR) broken("access modes");
    printf("tick %ld\n", tick);
    struct timespec ts = { 0, 100000000 };
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR) {}
  }
}
