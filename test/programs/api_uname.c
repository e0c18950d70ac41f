/* Prints "node N NODENAME" from uname() every 100 ms, forever: with a
 * wrapper preloaded (plugins/wrap_uname.so) the name shows whether the
 * wrapper and the definition it calls next still work, after a restart too. */
#include <errno.h>
#include <stdio.h>
#include <sys/utsname.h>
#include <time.h>

int main(void) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  for (long i = 0;; i++) {
    struct utsname u;
    printf("node %ld %s\n", i, uname(&u) == 0 ? u.nodename : "FAILED");
    struct timespec ts = { 0, 100 * 1000000 };
    while (nanosleep(&ts, &ts) == -1 && errno == EINTR) {}
  }
}
