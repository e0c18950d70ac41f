#!/usr/bin/env bash
# Lazy vs eager restart of the same image, side by side in one run:
#   first_s  `stasis restart` to the program's first progress line, for a
#            program that then touches a few pages only (test/programs/lazymem)
#   full_s   `stasis restart` to the end of a full pass over its memory
#            (lazymem told to verify all of it at once; bigmem: ¼ random,
#            ¾ pattern, its first "verified" line)
#   cli_s    `stasis --version`: the Node CLI's own start, same run
#   tiny_s   `stasis restart` to the first line of a program with almost no
#            memory (test/programs/counter): the CLI (bin/stasis's C front
#            runs such a one-process restart without Node), its verification,
#            the coordinator's start, the loader; what a restart costs beyond memory
# Each program is checkpointed once; every run restores that same image.
#   bench/lazy-restart.sh [MiB] [runs]
set -euo pipefail
cd "$(dirname "$0")/.."
MIB=${1:-1024}
RUNS=${2:-3}
STASIS="bin/stasis.js"
PROGS=native/build/programs
WORK=$(mktemp -d "${TMPDIR:-/tmp}/stasis-bench.XXXXXX")
PID=""
cleanup() {
  [ -n "$PID" ] && kill -9 "$PID" 2>/dev/null || true
  for d in "$WORK"/ckpt-*; do
    [ -f "$d/coordinator.json" ] || continue
    cpid=$(sed -n 's/.*"pid": *\([0-9]*\).*/\1/p' "$d/coordinator.json")
    [ -n "$cpid" ] && kill "$cpid" 2>/dev/null || true
  done
  rm -rf "$WORK"
}
trap cleanup EXIT
now() { date +%s.%N; }
wait_line() { # file regex timeout-seconds
  local deadline=$(( $(date +%s) + $3 ))
  until grep -qE "$2" "$1" 2>/dev/null; do
    [ "$(date +%s)" -gt "$deadline" ] && { echo "bench: timed out waiting for '$2' in $1" >&2; tail -3 "$1" >&2; exit 1; }
    sleep 0.002
  done
}
save() { # name argv... → checkpoint of it in $WORK/ckpt-name
  local d="$WORK/ckpt-$1"; shift
  $STASIS launch --ckpt-dir "$d" -- "$@" > "$d.out" 2>&1 &
  PID=$!
  wait_line "$d.out" '^(tick 2|verified 1 |count 2$)' 120
  $STASIS command --ckpt-dir "$d" --checkpoint --json > "$d.json"
  kill -9 "$PID"; wait "$PID" 2>/dev/null || true; PID=""
}
restart_to() { # name regex eager(0/1) [trigger-command] → seconds
  local d="$WORK/ckpt-$1" out="$WORK/out" t0 t1
  [ -n "${4:-}" ] && echo "$4" > "$WORK/trigger"
  t0=$(now)
  STASIS_EAGER=$3 $STASIS restart "$d" > "$out" 2> "$out.err" &
  PID=$!
  wait_line "$out" "$2" 120
  t1=$(now)
  if grep -q BROKEN "$out"; then echo "bench: $(grep BROKEN "$out" | head -1)" >&2; exit 1; fi
  kill -9 "$PID"; wait "$PID" 2>/dev/null || true; PID=""
  rm -f "$WORK/trigger"
  sleep 0.5   # the pager ends with the process; the coordinator with it
  echo "$t1 - $t0" | bc -l
}
mkdir -p "$WORK"
save lazymem "$PROGS/lazymem" "$MIB" "$WORK/trigger"
save bigmem "$PROGS/bigmem" "$MIB"
save counter "$PROGS/counter"
printf '%-4s %7s %7s %9s %9s %8s %9s %9s %8s %9s %9s %8s\n' run cli_s tiny_s first_lz first_eg lz/eg full_lz full_eg lz/eg big_lz big_eg lz/eg
for run in $(seq 1 "$RUNS"); do
  t0=$(now); $STASIS --version > /dev/null; t1=$(now); cli=$(echo "$t1 - $t0" | bc -l)
  tiny=$(restart_to counter '^count ' 0)
  fl=$(restart_to lazymem '^tick ' 0); fe=$(restart_to lazymem '^tick ' 1)
  vl=$(restart_to lazymem '^verified ' 0 verify); ve=$(restart_to lazymem '^verified ' 1 verify)
  bl=$(restart_to bigmem '^verified ' 0); be=$(restart_to bigmem '^verified ' 1)
  printf '%-4s %7.3f %7.3f %9.3f %9.3f %8.2f %9.3f %9.3f %8.2f %9.3f %9.3f %8.2f\n' "$run" "$cli" "$tiny" "$fl" "$fe" "$(echo "$fl / $fe" | bc -l)" \
    "$vl" "$ve" "$(echo "$vl / $ve" | bc -l)" "$bl" "$be" "$(echo "$bl / $be" | bc -l)"
done
cat <<NOTE
$MIB MiB; image sizes: lazymem $(sed -n 's/.*"bytes": *\([0-9]*\).*/\1/p' "$WORK/ckpt-lazymem.json") B, bigmem $(sed -n 's/.*"bytes": *\([0-9]*\).*/\1/p' "$WORK/ckpt-bigmem.json") B (zstd)
first_*   restart to lazymem's first progress line (it touches a few pages), lazy (default) and --eager
full_*    restart to lazymem's check of all its memory, asked for before the restart
big_*     restart to bigmem's first full pass (¼ random pages stay raw: mapped from the image in both modes)
targets   first_lz <= tiny_s + 0.1 s (the restart of a program that touches little memory, beyond
          the CLI's start: its own, the image's verification, the coordinator's);
          full_lz and big_lz no worse than eager (lz/eg <= 1)
NOTE
uptime
