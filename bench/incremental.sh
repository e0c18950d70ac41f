#!/usr/bin/env bash
# Incremental images (STASIS_INCREMENTAL=1) of a program holding 1 GiB
# (¼ random, ¾ pattern; bigmem never writes to it after start), side by
# side in one run: a full checkpoint as stasis writes it by default, the
# first checkpoint of an incremental job (full, plus hashing every chunk),
# then the second one (nothing changed: REF records and a link).
# Prints, per run, each one's time and new bytes and the ratios
# incremental / full; exits non-zero only if something failed.
# Then the same for two programs whose memory is mostly a file: outfile,
# which wrote a 100 MiB output file (open for writing: captured at each
# checkpoint), and mapfile, which maps a 160 MiB input file MAP_PRIVATE
# (--incremental maps it again at restart instead of storing it).
#   bench/incremental.sh [MiB] [runs]
# BENCH_FORKED=1: every job launched with --forked (the copy writes).
# BENCH_FILES=0: the bigmem table only; BENCH_MEMORY=0: the files' only.
# Times: `wall` is the `stasis command --checkpoint` command as a user runs
# it (with Node's start, about 0.2 s here); `barrier` is the coordinator's
# own measure of the checkpoint (SUSPEND to commit), from the same answer.
set -euo pipefail
cd "$(dirname "$0")/.."
MIB=${1:-1024}
RUNS=${2:-3}
STASIS="bin/stasis.js"
BIGMEM=native/build/programs/bigmem
WORK=$(mktemp -d "${TMPDIR:-/tmp}/stasis-bench.XXXXXX")
PID=""
CKPT=""   # a new directory per job: a coordinator still exiting cannot touch the next one's files
JOBS=0
stop_job() {
  [ -n "$PID" ] && { kill -9 "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; }
  PID=""
  if [ -n "$CKPT" ] && [ -f "$CKPT/coordinator.json" ]; then
    local cpid
    cpid=$(sed -n 's/.*"pid": *\([0-9]*\).*/\1/p' "$CKPT/coordinator.json" 2>/dev/null || true)
    $STASIS command --ckpt-dir "$CKPT" --kill >/dev/null 2>&1 || true
    # The next job must not join this coordinator.
    if [ -n "$cpid" ]; then
      kill "$cpid" 2>/dev/null || true
      while kill -0 "$cpid" 2>/dev/null; do sleep 0.05; done
    fi
  fi
}
cleanup() { stop_job; rm -rf "$WORK"; }
trap cleanup EXIT
now() { date +%s.%N; }
elapsed() { echo "$2 - $1" | bc -l; }
wait_line() { # file regex timeout-seconds
  local deadline=$(( $(date +%s) + $3 ))
  until grep -qE "$2" "$1" 2>/dev/null; do
    [ "$(date +%s)" -gt "$deadline" ] && { echo "bench: timed out waiting for '$2' in $1" >&2; tail -3 "$1" >&2; exit 1; }
    sleep 0.01
  done
}
PROG=("$BIGMEM" "$MIB")   # the program of each job, and the line that says it is ready
READY='^verified 1 '
start_job() { # env assignments for the job
  [ -n "$CKPT" ] && rm -rf "$CKPT"
  JOBS=$((JOBS + 1))
  CKPT="$WORK/ckpt-$JOBS"
  mkdir -p "$CKPT"
  env "$@" $STASIS launch ${BENCH_FORKED:+--forked} --ckpt-dir "$CKPT" -- "${PROG[@]}" > "$WORK/out" 2> "$WORK/err" &
  PID=$!
  wait_line "$WORK/out" "$READY" 120
}
# One checkpoint: "wall_s barrier_s bytes"
checkpoint() {
  local t0 t1 json
  t0=$(now)
  json=$($STASIS command --ckpt-dir "$CKPT" --checkpoint --json)
  t1=$(now)
  printf '%s %s %s\n' "$(elapsed "$t0" "$t1")" \
    "$(echo "$json" | sed -n 's/.*"seconds": *\([0-9.e-]*\).*/\1/p')" \
    "$(echo "$json" | sed -n 's/.*"bytes": *\([0-9]*\).*/\1/p')"
}
mib() { awk -v b="$1" 'BEGIN { printf "%.2f", b / 1048576 }'; }
pct() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", 100 * a / b }'; }

compare() { # title
  echo "$1"
  printf '%-4s | %-26s | %-26s | %-26s | %-25s\n' run 'full (default)' 'incr. job, 1st' 'incr. job, 2nd (unchanged)' '2nd / full: wall barrier bytes'
  printf '%-4s | %8s %8s %8s | %8s %8s %8s | %8s %8s %8s | %7s %7s %9s\n' '' wall_s barr_s MiB wall_s barr_s MiB wall_s barr_s MiB '%' '%' '%'
  local ROWS="$WORK/rows" run fw fb fbytes aw ab abytes iw ib ibytes
  : > "$ROWS"
  for run in $(seq 1 "$RUNS"); do
    start_job STASIS_INCREMENTAL=0
    read -r fw fb fbytes < <(checkpoint)
    stop_job
    start_job STASIS_INCREMENTAL=1
    read -r aw ab abytes < <(checkpoint)
    read -r iw ib ibytes < <(checkpoint)
    stop_job
    printf '%-4s | %8.3f %8.3f %8s | %8.3f %8.3f %8s | %8.3f %8.3f %8s | %7s %7s %9s\n' "$run" \
      "$fw" "$fb" "$(mib "$fbytes")" "$aw" "$ab" "$(mib "$abytes")" "$iw" "$ib" "$(mib "$ibytes")" \
      "$(pct "$iw" "$fw")" "$(pct "$ib" "$fb")" "$(pct "$ibytes" "$fbytes")"
    echo "$fw $fb $fbytes $aw $ab $abytes $iw $ib $ibytes" >> "$ROWS"
  done
  # Medians of each column (a full checkpoint's time swings with the disk's
  # writeback; the ratio of medians is the headline).
  med() { cut -d' ' -f"$1" "$ROWS" | sort -g | awk '{v[NR]=$1} END {print (NR%2) ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2}'; }
  printf '%-4s | %8.3f %8.3f %8s | %8.3f %8.3f %8s | %8.3f %8.3f %8s | %7s %7s %9s\n' med \
    "$(med 1)" "$(med 2)" "$(mib "$(med 3)")" "$(med 4)" "$(med 5)" "$(mib "$(med 6)")" "$(med 7)" "$(med 8)" "$(mib "$(med 9)")" \
    "$(pct "$(med 7)" "$(med 1)")" "$(pct "$(med 8)" "$(med 2)")" "$(pct "$(med 9)" "$(med 3)")"
}

echo "stasis incremental images: ${BENCH_FORKED:+forked, }$(nproc) CPUs, $(date -u +%Y-%m-%dT%H:%MZ)"
[ "${BENCH_MEMORY:-1}" != 0 ] && compare "${MIB} MiB of memory (bigmem)"
if [ "${BENCH_FILES:-1}" != 0 ]; then
  PROG=(native/build/programs/outfile "$WORK/out.bin" 100); READY='^ready'
  compare "a written 100 MiB output file, unchanged (outfile)"
  head -c $((160 << 20)) /dev/urandom > "$WORK/input.bin"
  PROG=(native/build/programs/mapfile "$WORK/input.bin"); READY='^verified 1 '
  compare "a 160 MiB input file mapped MAP_PRIVATE (mapfile)"
fi
echo "target (issue 15): the unchanged checkpoint costs <= 10 % of a full one in time and bytes"
