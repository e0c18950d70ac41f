#!/bin/bash
# A user's bash script: command substitutions, pipelines, set -e, a log kept
# open on fd 3, and a loop whose output the script redirects to a file.
set -euo pipefail
exec 3>>log.txt
total=0
for i in $(seq 1 40); do
  h=$(printf 'line %d\n' "$i" | md5sum | cut -c1-12)
  digits=$(echo "$h" | tr -dc '0-9' | wc -c)
  total=$((total + digits))
  echo "$i $h $digits $total"
  echo "$i $h" >&3
  sleep 0.06
done
for i in $(seq 1 30); do
  words=$(seq 1 "$i" | paste -sd' ')
  echo "$i $(echo "$words" | wc -w) $(echo "$words" | tr ' ' '\n' | sort -rn | head -1)"
  sleep 0.06
done > table.txt
sort -k2 log.txt | head -5
grep -c . table.txt
echo "done total=$total"
