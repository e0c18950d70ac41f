#!/usr/bin/env bash
# `stasis launch -- /bin/true` joining a running coordinator against DMTCP's
# `dmtcp_launch --join-coordinator /bin/true`, in the same run, alternating:
# median wall time of each (the program's own start, its preloaded library
# joining the coordinator, and its exit included) and their ratio (issue
# 15's target: <= 1.0x). For reference: bare /bin/true and the Node CLI's
# launch (STASIS_FRONT=0, what bin/stasis did before stasis-front).
#   bench/launch.sh [runs]      (default 40)
# DMTCP is built from source when absent (bench/dmtcp.sh; DMTCP_SRC=path
# or URL of its git repository). Exits non-zero only if something failed.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-40}
STASIS="$PWD/bin/stasis.js"
DMTCP_BIN=$(bench/dmtcp.sh)
WORK=$(mktemp -d "${TMPDIR:-/tmp}/stasis-bench-launch.XXXXXX")
COORD=""
DMTCP_PORT=""
cleanup() {
  [ -n "$COORD" ] && kill "$COORD" 2>/dev/null || true
  [ -n "$DMTCP_PORT" ] && "$DMTCP_BIN/dmtcp_command" -h 127.0.0.1 -p "$DMTCP_PORT" --quit >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT

"$STASIS" coordinator --ckpt-dir "$WORK/ckpt" >"$WORK/coord.out" 2>"$WORK/coord.err" &
COORD=$!
"$DMTCP_BIN/dmtcp_coordinator" --daemon --quiet -p 0 --port-file "$WORK/dmtcp.port" --ckptdir "$WORK/dmtcp" >/dev/null 2>&1
for _ in $(seq 100); do [ -s "$WORK/ckpt/coordinator.json" ] && [ -s "$WORK/dmtcp.port" ] && break; sleep 0.1; done
DMTCP_PORT=$(cat "$WORK/dmtcp.port")
[ -s "$WORK/ckpt/coordinator.json" ] || { echo "bench: the stasis coordinator did not start: $(cat "$WORK/coord.err")" >&2; exit 1; }

# One timed run: its wall time in microseconds on stdout; fails if the command does.
timed() {
  local s=$EPOCHREALTIME e
  "$@" </dev/null >/dev/null 2>>"$WORK/errors" || { echo "bench: failed: $*" >&2; tail -3 "$WORK/errors" >&2; exit 1; }
  e=$EPOCHREALTIME
  echo $(( ${e/./} - ${s/./} ))
}
median() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

declare -A T
names=(stasis dmtcp bare node front preloaded)
FRONT="$PWD/native/build/stasis-front"
# What the program alone costs with libstasis in it, joining (no CLI at all).
JOIN_ENV=(env LD_PRELOAD="$PWD/native/build/libstasis.so" STASIS_CKPT_DIR="$WORK/ckpt" STASIS_TOKEN="$(cat "$WORK/ckpt/token")"
  STASIS_COORD="$(sed -E 's/.*"host":"([^"]*)","port":([0-9]+).*/\1:\2/' "$WORK/ckpt/coordinator.json")")
for i in $(seq "$RUNS"); do
  T[stasis]+="$(timed "$STASIS" launch --ckpt-dir "$WORK/ckpt" -- /bin/true) "
  T[dmtcp]+="$(timed "$DMTCP_BIN/dmtcp_launch" --join-coordinator -h 127.0.0.1 -p "$DMTCP_PORT" /bin/true) "
  T[bare]+="$(timed /bin/true) "
  T[front]+="$(timed "$FRONT" "$STASIS" launch --ckpt-dir "$WORK/ckpt" -- /bin/true) "
  T[preloaded]+="$(timed "${JOIN_ENV[@]}" /bin/true) "
  # The Node CLI every fifth round: it is slow, and only a reference.
  [ $((i % 5)) -eq 1 ] && T[node]+="$(timed env STASIS_FRONT=0 "$STASIS" launch --ckpt-dir "$WORK/ckpt" -- /bin/true) "
done
# Each stasis launch joined: the coordinator saw every /bin/true connect.
joined=$(grep -c '(true) on .* connected' "$WORK/coord.err" || true)
want=$((3 * RUNS + (RUNS + 4) / 5))
[ "$joined" -eq "$want" ] || { echo "bench: $joined of $want stasis launches joined the coordinator" >&2; exit 1; }

echo "launch of /bin/true joining a running coordinator, median of $RUNS alternating runs ($(nproc) CPUs, load $(cut -d' ' -f1 /proc/loadavg), $(date -u +%Y-%m-%dT%H:%MZ))"
declare -A M
for n in "${names[@]}"; do M[$n]=$(tr ' ' '\n' <<<"${T[$n]}" | grep . | median); done
printf '  %-44s %8.2f ms\n' "stasis launch (bin/stasis, stasis-front)" "$(echo "${M[stasis]} / 1000" | bc -l)"
printf '  %-44s %8.2f ms\n' "dmtcp_launch --join-coordinator (DMTCP)" "$(echo "${M[dmtcp]} / 1000" | bc -l)"
printf '  %-44s %8.2f ms\n' "/bin/true alone" "$(echo "${M[bare]} / 1000" | bc -l)"
printf '  %-44s %8.2f ms\n' "stasis-front run directly (no #! and sh)" "$(echo "${M[front]} / 1000" | bc -l)"
printf '  %-44s %8.2f ms\n' "env LD_PRELOAD=libstasis.so ... /bin/true" "$(echo "${M[preloaded]} / 1000" | bc -l)"
printf '  %-44s %8.2f ms\n' "stasis launch through Node (STASIS_FRONT=0)" "$(echo "${M[node]} / 1000" | bc -l)"
printf '  ratio stasis / DMTCP: %.2fx (target <= 1.0x); Node path / DMTCP: %.2fx\n' \
  "$(echo "${M[stasis]} / ${M[dmtcp]}" | bc -l)" "$(echo "${M[node]} / ${M[dmtcp]}" | bc -l)"
