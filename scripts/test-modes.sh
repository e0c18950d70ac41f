#!/usr/bin/env bash
# The test matrix (docs/testing.md): `npm test` runs every spec in the default
# modes (images written with the job stopped, zstd). This runs the
# checkpoint/restart specs where each other mode matters again in that mode,
# set in the environment the jobs inherit (test/core/mode proves it reaches
# them). The whole suite three more times would not fit CI's budget.
#   bash scripts/test-modes.sh [forked|lz4|none]...   (default: all three; after `npm run build`)
# Exit status 1 if any mode had a failure; each mode ends with its line
# "mode M: N passed, N failed, N skipped".
set -uo pipefail
cd "$(dirname "$0")/.."
t=dist/test

# Forked checkpoints: every process is copied at the barrier and the job runs
# on while the copies write, so the specs of what a copy must hold and what
# runs on: the core programs, processes and their trees, pipes, FIFOs, ptys,
# shared memory, signals, sockets, files the job writes, the example plugins,
# the local level (--local-dir).
forked=(
  $t/core/mode.test.js $t/core/continue.test.js $t/core/many-checkpoints.test.js $t/core/faults.test.js $t/core/restart-alone.test.js
  $t/process/pipes.test.js $t/process/pipeline.test.js $t/process/fifo.test.js $t/process/pty.test.js
  $t/process/shm.test.js $t/process/shared-fd.test.js $t/process/signals.test.js $t/process/spawn.test.js
  $t/process/tree.test.js $t/process/zombies.test.js $t/process/exec-signal.test.js $t/process/stale-close.test.js
  $t/plugins/sockets.test.js $t/plugins/examples.test.js
  $t/files/scratch.test.js $t/cli/local-dir.test.js
)
# Compression: what writes and reads the records (the image writer, the
# restore loader, inspect, verify, pack, corrupt-image detection), on the
# programs with the most kinds of memory and the side files beside images.
compressed=(
  $t/core/mode.test.js $t/core/continue.test.js $t/core/faults.test.js
  $t/images/pack.test.js $t/images/verdict-store.test.js $t/cli/corrupt-newest.test.js
  $t/process/shm.test.js $t/files/scratch.test.js
)

run_mode() {   # run_mode NAME VAR=VALUE... -- SPEC...
  local name=$1; shift
  local -a vars=()
  while [[ $1 != -- ]]; do vars+=("$1"); shift; done
  shift
  echo "== mode $name (${vars[*]}): $# spec files"
  local start=$SECONDS
  env "${vars[@]}" STASIS_TEST_MODE="$name" npx mocha --no-config --reporter test/reporter.cjs \
    --timeout 120000 --exit "$@" || status=1
  echo "== mode $name: $((SECONDS - start)) s"
}

status=0
modes=("$@")
[[ ${#modes[@]} -gt 0 ]] || modes=(forked lz4 none)
for m in "${modes[@]}"; do
  case $m in
    forked) run_mode forked STASIS_SAVE=forked -- "${forked[@]}" ;;
    # Lazy restart pages in lz4 records too (uncompressed ones are mapped, never lazy).
    lz4) run_mode lz4 STASIS_COMPRESS=lz4 -- "${compressed[@]}" $t/core/lazy.test.js ;;
    none) run_mode none STASIS_COMPRESS=none -- "${compressed[@]}" ;;
    *) echo "test-modes.sh: unknown mode '$m' (forked, lz4, none)" >&2; exit 2 ;;
  esac
done
exit $status
