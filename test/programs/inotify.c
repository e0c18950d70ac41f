/* inotify watches that must come back with the same numbers (argv[1] is a
 * scratch directory): A a directory (create/delete), F a file (modify),
 * a watch added and removed (a gap in the numbers), B another directory.
 * Every ~100 ms: create and delete a file in A, write F, create in B; the
 * events must be exactly those, with the right watch numbers and names.
 * Prints "tick N"; "BROKEN ..." otherwise. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static void broken(const char *m) { printf("BROKEN %s\n", m); fflush(stdout); }

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  char a[1024], b[1024], f[1024], gap[1024];
  snprintf(a, sizeof a, "%s/a", argc > 1 ? argv[1] : "/tmp/stasis-inotify");
  snprintf(b, sizeof b, "%s/b", argc > 1 ? argv[1] : "/tmp/stasis-inotify");
  snprintf(f, sizeof f, "%s/f", argc > 1 ? argv[1] : "/tmp/stasis-inotify");
  snprintf(gap, sizeof gap, "%s", argc > 1 ? argv[1] : "/tmp/stasis-inotify");
  mkdir(gap, 0700); mkdir(a, 0700); mkdir(b, 0700);
  int ff = open(f, O_CREAT | O_WRONLY | O_TRUNC, 0600);
  int in = inotify_init1(IN_NONBLOCK);
  if (ff < 0 || in < 0) { perror("setup"); return 1; }
  int wa = inotify_add_watch(in, a, IN_CREATE | IN_DELETE);
  int wf = inotify_add_watch(in, f, IN_MODIFY);
  int wg = inotify_add_watch(in, gap, IN_CREATE);
  inotify_rm_watch(in, wg);
  int wb = inotify_add_watch(in, b, IN_CREATE);
  if (wa < 0 || wf < 0 || wb < 0) { perror("inotify_add_watch"); return 1; }
  char buf[4096], m[256];
  while (read(in, buf, sizeof buf) > 0) {}   /* the removed watch's IN_IGNORED */
  for (long tick = 0;; tick++) {
    char name[64], path[1100];
    snprintf(name, sizeof name, "tick-%ld", tick);
    snprintf(path, sizeof path, "%s/%s", a, name);
    int t = open(path, O_CREAT | O_WRONLY, 0600);
    close(t);
    unlink(path);
    if (write(ff, "x", 1) != 1) broken("write F");
    snprintf(path, sizeof path, "%s/%s", b, name);
    t = open(path, O_CREAT | O_WRONLY, 0600);
    close(t);
    unlink(path);
    struct { int wd; uint32_t mask; const char *name; } want[4] = {
      { wa, IN_CREATE, name }, { wa, IN_DELETE, name }, { wf, IN_MODIFY, "" }, { wb, IN_CREATE, name } };
    ssize_t n = read(in, buf, sizeof buf);
    int k = 0;
    for (ssize_t off = 0; n > 0 && off < n; k++) {
      struct inotify_event *ev = (void *)(buf + off);
      off += sizeof *ev + ev->len;
      if (k >= 4 || ev->wd != want[k].wd || ev->mask != want[k].mask || strcmp(ev->len ? ev->name : "", want[k].name)) {
        snprintf(m, sizeof m, "event %d: wd %d mask %x name %s", k, ev->wd, ev->mask, ev->len ? ev->name : "");
        broken(m);
        break;
      }
    }
    if (k != 4) { snprintf(m, sizeof m, "%d events instead of 4", k); broken(m); }
    if (!(fcntl(in, F_GETFL) & O_NONBLOCK) || (fcntl(in, F_GETFD) & FD_CLOEXEC)) broken("flags changed");
    printf("tick %ld wds=%d,%d,%d\n", tick, wa, wf, wb);
    struct timespec ts = { 0, 100000000 };
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR) {}
  }
}
