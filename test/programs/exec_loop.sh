#!/bin/bash
# N rounds (argv[1], default 1000) of a command substitution with a pipe
# and two execs: x=$(echo $i | md5sum) and /bin/true. Every result is
# checked: "FAIL ..." for each wrong one (a child that died of a signal
# gives 128+signo), "iter I" every 100 rounds, "done N fails=F" at the end.
n=${1:-1000}
fails=0
for ((i = 1; i <= n; i++)); do
  x=$(echo "$i" | md5sum)
  rc=$?
  if [ $rc -ne 0 ] || [ ${#x} -ne 35 ]; then fails=$((fails + 1)); echo "FAIL $i md5sum rc=$rc x='$x'"; fi
  /bin/true
  rc=$?
  if [ $rc -ne 0 ]; then fails=$((fails + 1)); echo "FAIL $i true rc=$rc"; fi
  if ((i % 100 == 0)); then echo "iter $i"; fi
done
echo "done $n fails=$fails"
