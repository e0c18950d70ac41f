#!/usr/bin/env bash
# stasis against DMTCP on the same program holding MiB (default 1 GiB, ¼
# random, ¾ pattern), every mode in the same run (bench/ckpt-modes.sh):
# stasis stopped zstd (default), stopped --compress none, --forked; DMTCP
# --no-gzip and gzip (its default). For each: checkpoint wall time, image
# size, application pause, restart to first progress, restart to a full pass
# over memory, and the fresh-memory floor; then issue 15's targets as ratios
# with PASS or MISS. A MISS is a result, not a failure: the script exits
# non-zero only if something failed.
#   bench/checkpoint.sh [MiB] [runs]          (default 1024 3)
# DMTCP: an installed dmtcp_launch, else DMTCP v4.2.0 built from source once
# by bench/dmtcp.sh (git clone of DMTCP_SRC, default its GitHub repository,
# ./configure && make, cached in ~/.cache/stasis-bench/dmtcp; a few minutes).
# If that fails (no network, no DMTCP_SRC) one line says so and stasis is
# measured alone. BENCH_DMTCP=0 skips DMTCP; BENCH_GZIP=0 skips its gzip mode.
# BENCH_ONLY=pause: only the pause of stopped and forked checkpoints with 4 KiB
# and 2 MiB pages side by side. BENCH_DEBUG=1: stasis's own timing on stderr.
set -euo pipefail
cd "$(dirname "$0")/.."
MIB=${1:-1024}
RUNS=${2:-3}
SETTLE=${BENCH_SETTLE:-2}   # seconds between freeing memory and the next timed start
STASIS="bin/stasis.js"
[ -n "${BENCH_DEBUG:-}" ] && export STASIS_DEBUG=1
BIGMEM=native/build/programs/bigmem
WORK=$(mktemp -d "${TMPDIR:-/tmp}/stasis-bench.XXXXXX")
PID=""
DMTCP_BIN=""
. bench/ckpt-modes.sh
cleanup() { stop_job; rm -rf "$WORK"; }
trap cleanup EXIT
[ -x "$BIGMEM" ] || { echo "bench: $BIGMEM missing: run npm run build" >&2; exit 1; }
gcc -O2 -o "$WORK/fresh-memory" bench/fresh-memory.c -lpthread
gcc -O2 -o "$WORK/pause-probe" bench/pause-probe.c
elapsed() { echo "$2 - $1" | bc -l; }
wait_line() { # file regex timeout-seconds [lines to skip]
  local deadline=$(( $(date +%s) + $3 ))
  # grep without -q reads to the end: tail never dies of SIGPIPE (pipefail).
  until tail -n +"$(( ${4:-0} + 1 ))" "$1" 2>/dev/null | grep -E "$2" >/dev/null; do
    [ "$(date +%s)" -gt "$deadline" ] && { echo "bench: timed out waiting for '$2' in $1" >&2; tail -n 5 "$1" "$1.err" >&2; exit 1; }
    sleep 0.005
  done
}

# The 1 GiB program: checkpoint just after it reported a pass (it is then in
# its 100 ms sleep), so that the restored program's first report follows
# the rest of that sleep and one whole pass over its memory. Sets CKPT
# BYTES PASS FLOOR4K FLOORTHP FLOOR (the lesser). Functions that start jobs
# run in this shell, never in $(...), so that cleanup knows their processes
# and their errors stop the bench.
memory_job() { # mode
  local out="$WORK/mem" res t0 lines
  job_begin "$1"
  launch_job "$1" "$out" "$BIGMEM" "$MIB"
  wait_line "$out" '^verified 1 ' 120
  lines=$(wc -l < "$out")
  wait_line "$out" '^verified ' 30 "$lines"
  res=$(checkpoint_job "$1")
  kill_program
  sleep "$SETTLE"
  t0=$EPOCHREALTIME
  restart_job "$1" "$out.2"
  wait_line "$out.2" '^(verified|MISMATCH) ' 120
  PASS=$(elapsed "$t0" "$EPOCHREALTIME")
  read -r CKPT BYTES <<<"$res"
  grep -q MISMATCH "$out.2" && { echo "bench: $1: the restored program's memory differs" >&2; exit 1; }
  stop_job
  # Each as long after freeing memory as the restart was.
  sleep "$SETTLE"
  FLOOR4K=$("$WORK/fresh-memory" "$MIB" 4k | cut -d' ' -f1)
  sleep "$SETTLE"
  FLOORTHP=$("$WORK/fresh-memory" "$MIB" thp | cut -d' ' -f1)
  FLOOR=$(echo "if ($FLOOR4K < $FLOORTHP) $FLOOR4K else $FLOORTHP" | bc -l)
}

# The probe (bench/pause-probe.c, as much memory, 2 ms wake-ups): the
# longest gap from just before the checkpoint until 0.5 s after it returned
# is the pause; then, unless told not to, restart and time its first
# wake-up (it touches 16 pages per wake-up). Sets CKPT BYTES PAUSE FIRST.
probe_job() { # mode pages(4k|thp) [norestart]
  local out="$WORK/probe" res before t0
  FIRST=-
  job_begin "$1"
  launch_job "$1" "$out" "$WORK/pause-probe" "$MIB" "$2"
  wait_line "$out" '^gap ' 120
  sleep 0.5
  before=$(wc -l < "$out")
  res=$(checkpoint_job "$1")
  sleep 0.5
  if grep -q 'saved with the process stopped' "$out.err"; then echo "bench: the forked checkpoint fell back: $(cat "$out.err")" >&2; exit 1; fi
  read -r CKPT BYTES <<<"$res"
  PAUSE=$(tail -n +"$((before + 1))" "$out" | awk '$1 == "gap" && $2 > m { m = $2 } END { print m + 0 }')
  kill_program
  if [ "${3:-}" != norestart ]; then
    sleep "$SETTLE"
    t0=$EPOCHREALTIME
    restart_job "$1" "$out.2"
    # Any line is progress; the first should be "late" (its first wake-up).
    wait_line "$out.2" '^(late|gap) ' 120
    # When the probe says it was (its wall clock), not when this loop saw it.
    local when
    when=$(awk '$1 == "late" && NF >= 4 { print $4; exit }' "$out.2")
    FIRST=$(elapsed "$t0" "${when:-$EPOCHREALTIME}")
    if ! head -n 1 "$out.2" | grep -q '^late '; then
      keep=$(mktemp -d "${TMPDIR:-/tmp}/stasis-bench-odd.XXXXXX")
      cp "$out" "$out.err" "$out.2" "$out.2.err" "$keep/" 2>/dev/null || true
      echo "bench: $1: the restored probe's first line is not its late wake-up (first_s is up to 0.1 s long); its output kept in $keep" >&2
    fi
  fi
  stop_job
}

# What the CLI costs before it does anything: `stasis restart` of a
# directory that does not exist (median of 5). bin/stasis's C front says
# that error itself, as it runs a plain restart itself (docs/cli.md, "The
# fast path"): Node's start is in neither.
cli_start() {
  for _ in 1 2 3 4 5; do
    local t0=$EPOCHREALTIME
    $STASIS restart "$WORK/none" >/dev/null 2>&1 || true
    elapsed "$t0" "$EPOCHREALTIME"
  done | sort -n | sed -n 3p
}

pause_table() {
  echo
  printf '%-5s %-5s %11s %9s %10s %11s %9s %10s %9s %9s\n' run pages stopped_s pause_ms image_MiB forked_s pause_ms image_MiB ckpt_f/s pause_f/s
  for pages in 4k thp; do
    for run in $(seq 1 "$RUNS"); do
      probe_job stasis-zstd "$pages" norestart; cs=$CKPT bs=$BYTES ps=$PAUSE
      probe_job stasis-forked "$pages" norestart; cf=$CKPT bf=$BYTES pf=$PAUSE
      printf '%-5s %-5s %11.3f %9.1f %10.1f %11.3f %9.1f %10.1f %9.2f %9.3f\n' "$run" "$pages" "$cs" "$ps" "$(echo "$bs / 1048576" | bc -l)" \
        "$cf" "$pf" "$(echo "$bf / 1048576" | bc -l)" "$(echo "$cf / $cs" | bc -l)" "$(echo "$pf / $ps" | bc -l)"
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
NOTE
  uptime
}

if [ "${BENCH_ONLY:-}" = pause ]; then pause_table; exit 0; fi

MODES=(stasis-zstd stasis-none stasis-forked)
if [ "${BENCH_DMTCP:-1}" = 0 ]; then
  echo "DMTCP: skipped (BENCH_DMTCP=0); stasis alone"
elif DMTCP_BIN=$(bench/dmtcp.sh 2>"$WORK/dmtcp.err"); then
  echo "DMTCP: $("$DMTCP_BIN/dmtcp_launch" --version 2>&1 | head -1) from $DMTCP_BIN (bench/dmtcp.sh)"
  # Interleaved with stasis's, so that the machine's load falls on both.
  MODES=(stasis-zstd dmtcp-nogzip stasis-none stasis-forked)
  [ "${BENCH_GZIP:-1}" = 0 ] || MODES+=(dmtcp-gzip)
else
  # Its stderr: what it did, then the build log's last lines; the first error says why.
  echo "DMTCP: not available, stasis measured alone (bench/dmtcp.sh failed: $(grep -m1 -i 'fatal\|error' "$WORK/dmtcp.err" || tail -n 1 "$WORK/dmtcp.err"))"
fi
CLI_S=$(printf '%.3f' "$(cli_start)")
echo "$MIB MiB, $RUNS run(s), $(nproc) CPUs, load $(cut -d' ' -f1 /proc/loadavg), $(date -u +%Y-%m-%dT%H:%MZ), $(uname -r)"
echo
printf '%-4s %-14s %8s %9s %9s %8s %8s %8s %10s %9s %10s\n' run mode ckpt_s image_MiB pause_ms first_s pass_s floor_s pass/floor floor4k_s floorthp_s
for run in $(seq 1 "$RUNS"); do
  for mode in "${MODES[@]}"; do
    memory_job "$mode"
    ckpt=$CKPT bytes=$BYTES   # of bigmem; the probe's checkpoint gives the pause only
    probe_job "$mode" 4k
    echo "$run $mode $ckpt $bytes $PAUSE $FIRST $PASS $FLOOR $FLOOR4K $FLOORTHP" >> "$WORK/results"
    printf '%-4s %-14s %8.3f %9.1f %9.1f %8.3f %8.3f %8.3f %10.2f %9.3f %10.3f\n' "$run" "$mode" "$ckpt" "$(echo "$bytes / 1048576" | bc -l)" \
      "$PAUSE" "$FIRST" "$PASS" "$FLOOR" "$(echo "$PASS / $FLOOR" | bc -l)" "$FLOOR4K" "$FLOORTHP"
  done
done
echo
awk -v cli="$CLI_S" -f bench/ckpt-targets.awk "$WORK/results"
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg) (the machine's other work falls on every mode alike, not equally)"
cat <<NOTE

ckpt_s     wall time of the checkpoint command: \`stasis command --checkpoint\` (stopped: suspend, write,
           fsync, commit, resume; forked: until the copies' images are fsynced and committed);
           \`dmtcp_command --checkpoint\` until DMTCP's coordinator wrote its restart script and the
           program runs again (DMTCP fsyncs only gzip images)
image_MiB  the checkpoint's image bytes
pause_ms   longest gap between the 2 ms wake-ups of bench/pause-probe.c (holding as much, 16 pages
           written per wake-up, 4 KiB pages) around its checkpoint: how long the program was stopped
first_s    from the restart command to the restored probe's first wake-up (it touches little memory), by
           the probe's wall clock (its "late" line), not when the bench's polling saw it
pass_s     from the restart command to the restored bigmem's first report: the rest of its 100 ms sleep
           (checkpointed just after a report) and one pass over all its memory
floor_s    bench/fresh-memory.c: filling and reading as much fresh memory on every CPU, $SETTLE s after
           freeing memory as the restart was: the floor under any restart that puts the memory back;
           the lesser of floor4k_s (4 KiB pages) and floorthp_s (MADV_HUGEPAGE; the loader advises it only with STASIS_LOADER_THP=1)
cli_s      \`stasis restart\` of a missing directory: the CLI's start ($CLI_S s; bin/stasis's C front
           answers it, as it runs these one-process restarts, without Node)
NOTE
