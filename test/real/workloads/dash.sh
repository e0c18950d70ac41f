# A POSIX sh script run by dash: command substitutions, pipelines, set -e,
# and children whose exit status the script checks (dash waits with wait3).
set -e
i=0
sum=0
while [ "$i" -lt 60 ]; do
  i=$((i + 1))
  sq=$(expr "$i" \* "$i")
  letters=$(echo "$sq" | tr 0-9 a-j)
  sum=$((sum + sq))
  rc=0
  sh -c "sleep 0.06; exit $((i % 4))" || rc=$?
  echo "$i $sq $letters rc=$rc sum=$sum"
  [ "$rc" -eq $((i % 4)) ] || { echo "BROKEN: rc $rc for $i"; exit 1; }
done
printf '%s\n' 3 1 2 | sort | tr '\n' ' '
echo
echo "done sum=$sum"
