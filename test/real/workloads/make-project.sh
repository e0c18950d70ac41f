#!/bin/sh
# Writes a small C project into the current directory: twelve sources, a
# header every object depends on, and a Makefile whose compile rule sleeps
# so that `make -j2` takes a few seconds with two compilers at a time.
set -e
n=12
objs=main.o
: > funcs.h
for k in $(seq 1 $n); do
  echo "int f$k(int x);" >> funcs.h
  cat > f$k.c <<C
#include "funcs.h"
int f$k(int x) { int s = 0; for (int i = 0; i < x; i++) s = (s * 31 + i * $k) % 10007; return s; }
C
  objs="$objs f$k.o"
done
{
  echo '#include <stdio.h>'
  echo '#include "funcs.h"'
  echo 'int main(void) {'
  for k in $(seq 1 $n); do printf '  printf("f%d %%d\\n", f%d(1000 + %d));\n' $k $k $k; done
  echo '  return 0;'
  echo '}'
} > main.c
cat > Makefile <<M
CC = gcc
CFLAGS = -O2 -Wall
OBJS = $objs
prog: \$(OBJS)
	\$(CC) -o \$@ \$(OBJS)
%.o: %.c funcs.h
	sleep 0.5
	\$(CC) \$(CFLAGS) -c -o \$@ \$<
M
