#!/bin/bash
# Forks and execs without pause: command substitutions, /bin/true, small
# pipelines. Prints iterations 1..N; then goes on the same way, silently,
# until the file `stop` exists, printing only what is wrong.
N=${1:-300}
i=0
while [ "$i" -lt "$N" ] || [ ! -e stop ]; do
  i=$((i + 1))
  x=$(echo "$i" | md5sum)
  /bin/true || echo "BROKEN $i: /bin/true failed"
  y=$(printf '%s\n' "$i" $((i * 7)) 5 | sort -n | tail -1)
  echo "$i" | tr 0-9 a-j | cat > /dev/null
  ps="${PIPESTATUS[*]}"
  if [ "$i" -le "$N" ]; then
    echo "$i ${x:0:12} $y $ps"
  elif [ "${#x}" -ne 35 ] || [ "$y" -ne $((i * 7)) ] || [ "$ps" != "0 0 0" ]; then
    echo "BROKEN $i: x=$x y=$y pipestatus=$ps"
  fi
done
echo "done $N"
