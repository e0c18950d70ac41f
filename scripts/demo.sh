#!/usr/bin/env bash
# The demo: a real checkpoint/restart. A counter runs under stasis, is
# checkpointed, killed with SIGKILL, and restarted from its image; it goes on
# counting from where it was.
set -euo pipefail
cd "$(dirname "$0")/.."
STASIS="bin/stasis.js"
DIR=$(mktemp -d "${TMPDIR:-/tmp}/stasis-demo.XXXXXX")
PID=""
cleanup() { [ -n "$PID" ] && kill -9 "$PID" 2>/dev/null; rm -rf "$DIR"; }
trap cleanup EXIT

echo "demo: stasis launch --ckpt-dir $DIR -- counter"
$STASIS launch --ckpt-dir "$DIR/ckpt" -- native/build/programs/counter > "$DIR/run1.out" &
PID=$!
sleep 1
echo "demo: $(tail -1 "$DIR/run1.out") ... checkpointing"
$STASIS command --ckpt-dir "$DIR/ckpt" --checkpoint
at=$(tail -1 "$DIR/run1.out")
sleep 0.5
kill -9 "$PID"; wait "$PID" 2>/dev/null || true
echo "demo: killed the counter with SIGKILL after '$(tail -1 "$DIR/run1.out")' (it had printed '$at' when the checkpoint finished)"
$STASIS restart "$DIR/ckpt" > "$DIR/run2.out" &
PID=$!
sleep 1
kill -9 "$PID"; wait "$PID" 2>/dev/null || true
PID=""
first=$(head -1 "$DIR/run2.out")
echo "demo: restarted from the image; its first line: '$first', then '$(tail -1 "$DIR/run2.out")'"
n_at=${at#count }; n_first=${first#count }
if [ -z "$first" ] || [ "$n_first" -lt $(( n_at - 20 )) ] || [ "$n_first" -le 0 ] || [ "$n_first" -gt $(( n_at + 20 )) ]; then
  echo "demo: FAILED: the restarted counter did not continue from the checkpoint" >&2
  exit 1
fi
echo "demo: ok — the counter continued from the checkpoint"
