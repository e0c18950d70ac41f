/* Linked with -static (native/Makefile): stasis launch must refuse it. */
#include <stdio.h>

int main(void) {
  puts("static hello");
  return 0;
}
