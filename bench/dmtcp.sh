#!/usr/bin/env bash
# Builds DMTCP from source for the benches that compare with it (launch.sh,
# checkpoint.sh) when it is not installed, and prints the directory holding
# its programs (dmtcp_launch, dmtcp_coordinator, ...) on stdout; the build's
# output goes to a log beside it. An installed dmtcp_launch on PATH is used
# as it is unless DMTCP_BUILD=1.
#   bench/dmtcp.sh            -> e.g. /home/me/.cache/stasis-bench/dmtcp/f8009ce7b4ad/bin
# DMTCP_SRC: a git URL or path (a bare repository will do) to clone from
#   (default https://github.com/dmtcp/dmtcp); DMTCP_REV: the commit or tag
#   (default: the commit of tag v4.2.0); DMTCP_CACHE: where builds live.
set -euo pipefail
SRC=${DMTCP_SRC:-https://github.com/dmtcp/dmtcp}
REV=${DMTCP_REV:-f8009ce7b4ad211311ca2f72a929b975e4aa1155}   # v4.2.0
CACHE=${DMTCP_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/stasis-bench/dmtcp}
if [ "${DMTCP_BUILD:-0}" != 1 ] && command -v dmtcp_launch >/dev/null 2>&1; then
  dirname "$(command -v dmtcp_launch)"
  exit 0
fi
DIR="$CACHE/${REV:0:12}"
if [ -x "$DIR/bin/dmtcp_launch" ] && [ -x "$DIR/bin/dmtcp_coordinator" ]; then
  echo "$DIR/bin"
  exit 0
fi
mkdir -p "$CACHE"
LOG="$CACHE/build-${REV:0:12}.log"
# One build at a time (two benches started together share it).
exec 9>"$CACHE/.lock"
flock 9
if [ ! -x "$DIR/bin/dmtcp_launch" ]; then
  echo "bench/dmtcp.sh: building DMTCP $REV from $SRC in $DIR (log: $LOG)" >&2
  rm -rf "$DIR"
  # Each step checked: `set -e` does not reach into a list followed by ||.
  { git clone --quiet "$SRC" "$DIR" &&
    git -C "$DIR" -c advice.detachedHead=false checkout --quiet "$REV" &&
    { git -C "$DIR" submodule update --init --quiet || true; } &&
    (cd "$DIR" && ./configure --quiet && make -j"$(nproc)"); } >"$LOG" 2>&1 || { echo "bench/dmtcp.sh: DMTCP build failed; last lines of $LOG:" >&2; tail -20 "$LOG" >&2; rm -rf "$DIR/bin/dmtcp_launch"; exit 1; }
fi
echo "$DIR/bin"
