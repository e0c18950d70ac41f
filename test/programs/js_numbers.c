/* js_numbers X...: for each X, String(Number(X)) and Number(X).toFixed(2) as
 * stasis-front prints them (native/launch/jsnum.c), one line each. */
#include <stdio.h>
#include <stdlib.h>
#include "front.h"

int main(int argc, char **argv) {
  char a[400], b[400];
  for (int i = 1; i < argc; i++) {
    double x = strtod(argv[i], NULL);
    js_number(x, a, sizeof a);
    js_fixed2(x, b, sizeof b);
    printf("%s %s\n", a, b);
  }
  return 0;
}
