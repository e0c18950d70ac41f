#!/usr/bin/env bash
# One full checkpoint barrier round (SUSPEND, CONNS, DRAIN, SAVE, commit,
# RESUME) of a real `stasis coordinator` with 64 to 1024 simulated processes
# (bench/sim-procs.c: real protocol clients that answer at once, an empty
# image each), median of a few rounds per size: the coordinator's own time
# for the round (the `seconds` of `stasis command --checkpoint --json`) and
# the command's wall time; issue 15's target: 1024 processes in < 0.5 s.
# Also the CPU time the coordinator and the simulated processes used in a
# round (the clock ticks of /proc/PID/stat, 10 ms apart): on a machine
# shared with other work the wall time is mostly waiting for a CPU.
#   bench/coordinator.sh [rounds] [sizes...]    (default 5; 64 128 256 512 1024)
# BENCH_VERBOSE=1: every round's time on stderr.
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${1:-5}
shift || true
SIZES=${*:-64 128 256 512 1024}
STASIS="$PWD/bin/stasis.js"
# The store in memory (/dev/shm) by default: creating 1024 image files one
# after another in one thread costs the simulation ~0.3 ms each on this VM's
# disk, where real processes each make their own at the same time.
# BENCH_DIR=/some/dir to measure a store there.
WORK=$(mktemp -d "${BENCH_DIR:-/dev/shm}/stasis-bench-coord.XXXXXX")
COORD=""
SIM=""
cleanup() {
  [ -n "$SIM" ] && kill "$SIM" 2>/dev/null || true
  [ -n "$COORD" ] && kill "$COORD" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT
gcc -O2 -o "$WORK/sim-procs" bench/sim-procs.c
"$STASIS" coordinator --ckpt-dir "$WORK/ckpt" --keep 1 >"$WORK/coord.out" 2>"$WORK/coord.err" &
COORD=$!
for _ in $(seq 100); do [ -s "$WORK/ckpt/coordinator.json" ] && break; sleep 0.1; done
read -r HOST PORT < <(sed -E 's/.*"host":"([^"]*)","port":([0-9]+).*/\1 \2/' "$WORK/ckpt/coordinator.json")
TOKEN=$(cat "$WORK/ckpt/token")
# CPU seconds (user + system) a process has used: what a round costs the
# coordinator whatever else runs on the machine.
cpu_of() { awk -v hz="$(getconf CLK_TCK)" '{ sub(/^.*\) /, ""); print ($12 + $13) / hz }' "/proc/$1/stat"; }
median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
# From the coordinator's log: `stasis command --status` cannot say it past
# ~450 processes (its STATUS line outgrows the protocol's 64 KiB).
processes() { echo $(( $(grep -c ') on .* connected$' "$WORK/coord.err") - $(grep -c ') on .* left (' "$WORK/coord.err") )); }

echo "checkpoint barrier round of a stasis coordinator with N simulated processes, median of $ROUNDS ($(nproc) CPUs, load $(cut -d' ' -f1 /proc/loadavg), $(date -u +%Y-%m-%dT%H:%MZ))"
printf '  %6s %10s %12s %14s %16s %14s\n' N "round (s)" "command (s)" "per process" "coordinator CPU" "simulated CPU"
for n in $SIZES; do
  "$WORK/sim-procs" "$HOST" "$PORT" "$TOKEN" "$n" >"$WORK/sim.out" 2>"$WORK/sim.err" &
  SIM=$!
  for _ in $(seq 300); do grep -qs '^joined' "$WORK/sim.out" && break; sleep 0.1; done
  grep -q '^joined' "$WORK/sim.out" || { echo "bench: the simulated processes did not join: $(cat "$WORK/sim.err")" >&2; exit 1; }
  [ "$(processes)" = "$n" ] || { echo "bench: the coordinator has $(processes) processes, not $n" >&2; exit 1; }
  : >"$WORK/rounds"
  for _ in $(seq "$ROUNDS"); do
    c0=$(cpu_of "$COORD"); m0=$(cpu_of "$SIM")
    s=$EPOCHREALTIME
    out=$("$STASIS" command --ckpt-dir "$WORK/ckpt" --checkpoint --json)
    e=$EPOCHREALTIME
    c1=$(cpu_of "$COORD"); m1=$(cpu_of "$SIM")
    echo "$(sed -E 's/.*"seconds":([0-9.e-]+).*/\1/' <<<"$out") $(( ${e/./} - ${s/./} )) $(echo "$c1 - $c0" | bc -l) $(echo "$m1 - $m0" | bc -l)" >>"$WORK/rounds"
  done
  [ -n "${BENCH_VERBOSE:-}" ] && echo "    rounds: $(cut -d" " -f1 "$WORK/rounds" | tr "\n" " ")" >&2
  round=$(cut -d' ' -f1 "$WORK/rounds" | median)
  wall=$(echo "$(cut -d' ' -f2 "$WORK/rounds" | median) / 1000000" | bc -l)
  ccpu=$(cut -d' ' -f3 "$WORK/rounds" | median); scpu=$(cut -d' ' -f4 "$WORK/rounds" | median)
  printf '  %6d %10.3f %12.3f %11.0f us %14.2f s %12.2f s%s\n' "$n" "$round" "$wall" "$(echo "$round * 1000000 / $n" | bc -l)" "$ccpu" "$scpu" \
    "$([ "$n" = 1024 ] && echo "   (target < 0.5 s)")"
  kill "$SIM"; wait "$SIM" 2>/dev/null || true
  SIM=""
  for _ in $(seq 100); do [ "$(processes)" = 0 ] && break; sleep 0.1; done
done
