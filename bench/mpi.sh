#!/usr/bin/env bash
# MPI jobs on one host (test/programs/mpi/mpi_exchange.c, 4 and 8 ranks,
# Open MPI and MPICH): runtime without stasis and under `stasis launch`
# (no checkpoint) side by side in the same run, their ratio; then the time
# of one checkpoint mid-run, and of a restart (from `stasis restart` to the
# job's next step, printed every step here), the restarted job checked to
# end with the uninterrupted checksum. Exits non-zero only if something failed.
#   bench/mpi.sh [steps] [runs]
set -euo pipefail
cd "$(dirname "$0")/.."
STEPS=${1:-200}
RUNS=${2:-1}
STASIS="bin/stasis.js"
PROGS=native/build/programs/mpi
WORK=$(mktemp -d "${TMPDIR:-/tmp}/stasis-bench-mpi.XXXXXX")
PID=""
# Loopback only (machines whose interfaces come and go: docs/user-guide.md, MPI jobs).
export OMPI_MCA_btl_tcp_if_include=lo OMPI_MCA_oob_tcp_if_include=lo UCX_NET_DEVICES=lo
cleanup() {
  [ -f "$WORK/ckpt/coordinator.json" ] && $STASIS command --ckpt-dir "$WORK/ckpt" --quit >/dev/null 2>&1 || true
  [ -n "$PID" ] && kill -9 "$PID" 2>/dev/null || true
  rm -rf "$WORK"
}
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
launcher() { # impl ranks
  case $1 in
    ompi) echo "mpirun.openmpi --allow-run-as-root --oversubscribe -np $2" ;;
    mpich) echo "mpiexec.hydra -n $2" ;;
  esac
}
done_line() { grep '^done ' "$1" || { echo "bench: no done line in $1" >&2; tail -3 "$1" >&2; exit 1; }; }

printf '%-5s %-6s %5s %8s %8s %7s %8s %9s %9s\n' run impl ranks plain_s stasis_s ratio ckpt_s image_MiB restart_s
for run in $(seq 1 "$RUNS"); do
  for impl in ompi mpich; do
    prog="$PROGS/mpi_exchange_$impl"
    [ -x "$prog" ] || { echo "bench: $prog not built (npm run build; scripts/install-deps.sh)" >&2; exit 1; }
    for ranks in 4 8; do
      cmd="$(launcher $impl $ranks) $prog $STEPS 1"
      t0=$(now); $cmd > "$WORK/plain" 2>&1; t1=$(now)
      plain=$(elapsed "$t0" "$t1")
      rm -rf "$WORK/ckpt"
      t0=$(now); $STASIS launch --ckpt-dir "$WORK/ckpt" -- $cmd > "$WORK/under" 2>&1; t1=$(now)
      under=$(elapsed "$t0" "$t1")
      [ "$(done_line "$WORK/plain")" = "$(done_line "$WORK/under")" ] || { echo "bench: checksums differ" >&2; exit 1; }
      # One checkpoint a third of the way in, every process killed, restarted.
      rm -rf "$WORK/ckpt"
      # In a subshell that outlives the kill: bash's "Killed" goes to its stderr, not ours.
      ( $STASIS launch --ckpt-dir "$WORK/ckpt" -- $cmd > "$WORK/out1" 2>&1 || true ) 2>/dev/null &
      PID=$!
      wait_line "$WORK/out1" "^step $(( STEPS / 3 )) " 300
      t0=$(now); json=$($STASIS command --ckpt-dir "$WORK/ckpt" --checkpoint --json); t1=$(now)
      ckpt=$(elapsed "$t0" "$t1")
      bytes=$(echo "$json" | sed -n 's/.*"bytes": *\([0-9]*\).*/\1/p')
      $STASIS command --ckpt-dir "$WORK/ckpt" --kill > /dev/null
      wait "$PID"; PID=""
      t0=$(now)
      $STASIS restart "$WORK/ckpt" > "$WORK/out2" 2>&1 &
      PID=$!
      wait_line "$WORK/out2" '^step ' 300
      t1=$(now)
      rst=$(elapsed "$t0" "$t1")
      wait "$PID" || { echo "bench: the restarted job failed" >&2; tail -3 "$WORK/out2" >&2; exit 1; }
      PID=""
      [ "$(done_line "$WORK/plain")" = "$(done_line "$WORK/out2")" ] || { echo "bench: restarted checksum differs" >&2; exit 1; }
      printf '%-5s %-6s %5s %8.2f %8.2f %7.2f %8.2f %9.1f %9.2f\n' "$run" "$impl" "$ranks" "$plain" "$under" \
        "$(echo "$under / $plain" | bc -l)" "$ckpt" "$(echo "$bytes / 1048576" | bc -l)" "$rst"
    done
  done
done
cat <<'NOTE'
plain_s    wall time of the job without stasis (launcher start to exit), same run
stasis_s   the same job under `stasis launch` without a checkpoint (coordinator start included)
ratio      stasis_s / plain_s: the runtime overhead
ckpt_s     wall time of `stasis command --checkpoint` a third of the way in (every rank, mpirun and its daemons)
image_MiB  bytes of the generation (compressed images of every process)
restart_s  from `stasis restart` to the job's next step line (one step is ~20 ms of sleep plus the exchange)
On a loaded machine the times are noisy: compare the ratio of rows from one run.
NOTE
