#!/usr/bin/env bash
# Checkpoint and restart of a program holding 1 GiB (¼ random, ¾ pattern),
# each measured side by side with dd moving the same bytes in the same run;
# then the application pause of a stopped and of a forked checkpoint
# (--forked) of the same size, side by side (bench/pause-probe.c).
# Prints times and ratios; exits non-zero only if something failed.
#   bench/checkpoint.sh [MiB] [runs]
# BENCH_ONLY=pause runs the pause table alone.
# BENCH_DEBUG=1 also prints where the image writer and the loader spent time.
set -euo pipefail
cd "$(dirname "$0")/.."
MIB=${1:-1024}
RUNS=${2:-3}
STASIS="bin/stasis.js"
[ -n "${BENCH_DEBUG:-}" ] && export STASIS_DEBUG=1
BIGMEM=native/build/programs/bigmem
WORK=$(mktemp -d "${TMPDIR:-/tmp}/stasis-bench.XXXXXX")
PID=""
cleanup() {
  [ -n "$PID" ] && kill -9 "$PID" 2>/dev/null || true
  if [ -f "$WORK/ckpt/coordinator.json" ]; then
    cpid=$(sed -n 's/.*"pid": *\([0-9]*\).*/\1/p' "$WORK/ckpt/coordinator.json")
    [ -n "$cpid" ] && kill "$cpid" 2>/dev/null || true
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT
gcc -O2 -o "$WORK/fresh-memory" bench/fresh-memory.c -lpthread
gcc -O2 -o "$WORK/pause-probe" bench/pause-probe.c
now() { date +%s.%N; }
elapsed() { echo "$2 - $1" | bc -l; }
wait_line() { # file regex timeout-seconds
  local deadline=$(( $(date +%s) + $3 ))
  until grep -qE "$2" "$1" 2>/dev/null; do
    [ "$(date +%s)" -gt "$deadline" ] && { echo "bench: timed out waiting for '$2' in $1" >&2; tail -3 "$1" >&2; exit 1; }
    sleep 0.01
  done
}
dd_write() { # bytes → seconds to write and fdatasync that many bytes
  local t0 t1
  t0=$(now)
  dd if=/dev/zero of="$WORK/dd.bin" bs=1M count=$(( ($1 + 1048575) / 1048576 )) conv=fdatasync status=none
  t1=$(now)
  elapsed "$t0" "$t1"
}
dd_read() {
  local t0 t1
  t0=$(now)
  dd if="$1" of=/dev/null bs=1M status=none
  t1=$(now)
  elapsed "$t0" "$t1"
}

full_table() {
printf '%-5s %10s %10s %9s %10s %9s %10s %9s %8s %9s %9s\n' run ckpt_s image_MiB dd_w_s ckpt/dd_w restart_s dd_read_s rst/dd_r fresh_s rst/fresh ratio_img
for run in $(seq 1 "$RUNS"); do
  rm -rf "$WORK/ckpt"; mkdir -p "$WORK/ckpt"
  $STASIS launch --ckpt-dir "$WORK/ckpt" -- "$BIGMEM" "$MIB" > "$WORK/out1" 2> "$WORK/err1" &
  PID=$!
  wait_line "$WORK/out1" '^verified 1 ' 120
  t0=$(now)
  json=$($STASIS command --ckpt-dir "$WORK/ckpt" --checkpoint --json)
  t1=$(now)
  ckpt=$(elapsed "$t0" "$t1")
  bytes=$(echo "$json" | sed -n 's/.*"bytes": *\([0-9]*\).*/\1/p')
  gen=$(echo "$json" | sed -n 's/.*"dir": *"\([^"]*\)".*/\1/p')
  kill -9 "$PID"; wait "$PID" 2>/dev/null || true; PID=""
  ddw=$(dd_write $(( MIB * 1048576 )))
  t0=$(now)
  $STASIS restart "$WORK/ckpt" > "$WORK/out2" 2> "$WORK/err2" &
  PID=$!
  wait_line "$WORK/out2" '^verified ' 60
  t1=$(now)
  rst=$(elapsed "$t0" "$t1")
  [ -n "${BENCH_DEBUG:-}" ] && sed -n 's/^stasis\[[0-9]*\]: image [^ ]*: /      writer: /p' "$WORK/err1" &&
    sed -n 's/^stasis-restart: .*: verify/      loader: verify/p' "$WORK/err2"
  kill -9 "$PID"; wait "$PID" 2>/dev/null || true; PID=""
  img=$(ls "$gen"/*.img | head -1)
  ddr=$(dd_read "$img")
  # As long after freeing memory as the restart was (it followed dd_write).
  sleep "$(printf '%.0f' "$ddw")"
  fresh=$("$WORK/fresh-memory" "$MIB" | cut -d' ' -f1)
  printf '%-5s %10.3f %10.1f %9.3f %10.2f %9.3f %10.3f %9.2f %8.3f %9.2f %9.3f\n' "$run" "$ckpt" "$(echo "$bytes / 1048576" | bc -l)" \
    "$ddw" "$(echo "$ckpt / $ddw" | bc -l)" "$rst" "$ddr" "$(echo "$rst / $ddr" | bc -l)" \
    "$fresh" "$(echo "$rst / $fresh" | bc -l)" "$(echo "$bytes / ($MIB * 1048576)" | bc -l)"
  sleep 1
done
cat <<'NOTE'
ckpt_s     wall time of `stasis command --checkpoint` (suspend, write, fsync, commit, resume)
dd_w_s     dd writing the program's memory size from /dev/zero with conv=fdatasync, same run
restart_s  from `stasis restart` (lazy, the default; STASIS_EAGER=1 for eager) to the program's first
           line of output (a full pass over its memory); bench/lazy-restart.sh compares both
dd_read_s  dd reading the image file just written (page cache, as the restart does)
fresh_s    filling and reading as much fresh memory on every CPU, same run, after a pause as long
           as the restart's: the floor under any restart that materializes memory (bench/fresh-memory.c)
ratio_img  image size / memory size
NOTE
}

# The longest gap between the probe's 2 ms wake-ups from just before the
# checkpoint was asked for until 0.5 s after it returned: how long the
# program was stopped. Prints "ckpt_s pause_ms image_MiB".
pause_run() { # mode: stopped | forked; pages: 4k | thp
  local flags=() out="$WORK/pause-$1" t0 t1 json before
  [ "$1" = forked ] && flags=(--forked)
  rm -rf "$WORK/ckpt"; mkdir -p "$WORK/ckpt"
  $STASIS launch "${flags[@]}" --ckpt-dir "$WORK/ckpt" -- "$WORK/pause-probe" "$MIB" "$2" > "$out" 2> "$out.err" &
  PID=$!
  wait_line "$out" '^gap ' 120
  sleep 0.5
  before=$(wc -l < "$out")
  t0=$(now)
  json=$($STASIS command --ckpt-dir "$WORK/ckpt" --checkpoint --json)
  t1=$(now)
  sleep 0.5
  kill -9 "$PID"; wait "$PID" 2>/dev/null || true; PID=""
  if grep -q 'saved with the process stopped' "$out.err"; then echo "bench: the forked checkpoint fell back: $(cat "$out.err")" >&2; exit 1; fi
  printf '%s %s %s\n' "$(elapsed "$t0" "$t1")" \
    "$(tail -n +"$((before + 1))" "$out" | awk '$1 == "gap" && $2 > m { m = $2 } END { print m + 0 }')" \
    "$(echo "$(echo "$json" | sed -n 's/.*"bytes": *\([0-9]*\).*/\1/p') / 1048576" | bc -l)"
}

pause_table() {
  echo
  printf '%-5s %-5s %11s %9s %10s %11s %9s %10s %9s %9s\n' run pages stopped_s pause_ms image_MiB forked_s pause_ms image_MiB ckpt_f/s pause_f/s
  for pages in 4k thp; do
    for run in $(seq 1 "$RUNS"); do
      read -r cs ps is < <(pause_run stopped "$pages")
      read -r cf pf if < <(pause_run forked "$pages")
      printf '%-5s %-5s %11.3f %9.1f %10.1f %11.3f %9.1f %10.1f %9.2f %9.3f\n' "$run" "$pages" "$cs" "$ps" "$is" "$cf" "$pf" "$if" \
        "$(echo "$cf / $cs" | bc -l)" "$(echo "$pf / $ps" | bc -l)"
    done
  done
  cat <<'NOTE'
stopped_s, forked_s  wall time of `stasis command --checkpoint` without and with --forked (forked: until
                     the writer's image is fsynced and the generation committed)
pause_ms             longest gap between the 2 ms wake-ups of bench/pause-probe.c (MiB held, 16 pages
                     written per wake-up) around the checkpoint: how long the program was stopped
pages                4k: the probe's memory in 4 KiB pages; thp: madvise(MADV_HUGEPAGE) (2 MiB pages where
                     the kernel has them): the copy of a forked checkpoint duplicates page tables, 512x
                     fewer entries with 2 MiB pages
ckpt_f/s, pause_f/s  forked / stopped; target: forked pause <= 50 ms
uptime:              the load this ran under (the pause is CPU time of the copy and of the barrier)
NOTE
  uptime
}

[ "${BENCH_ONLY:-}" = pause ] || full_table
pause_table
