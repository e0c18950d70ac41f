# Sourced by bench/checkpoint.sh: one job under a checkpoint "mode", driven
# the same way whatever the tool. Modes:
#   stasis-zstd    stasis launch (stopped write, zstd, the default)
#   stasis-none    stasis launch --compress none
#   stasis-forked  stasis launch --forked (zstd)
#   dmtcp-nogzip   dmtcp_launch --no-gzip
#   dmtcp-gzip     dmtcp_launch (gzip, its default)
# Uses WORK, STASIS, DMTCP_BIN; sets PID (the program) and DMTCP_PORT.
# Each job has its own checkpoint directory $WORK/ckpt and, for DMTCP, its
# own coordinator (started before the launch and stopped after the job,
# neither timed: DMTCP's restart joins a coordinator already running,
# stasis restart starts its private one inside the timed restart).

DMTCP_PORT=""

job_begin() { # mode
  stop_job
  rm -rf "$WORK/ckpt"; mkdir -p "$WORK/ckpt"
  case $1 in dmtcp-*)
    rm -f "$WORK/dmtcp.port"
    "$DMTCP_BIN/dmtcp_coordinator" --daemon --quiet -p 0 --port-file "$WORK/dmtcp.port" --ckptdir "$WORK/ckpt" >/dev/null 2>&1
    for _ in $(seq 100); do [ -s "$WORK/dmtcp.port" ] && break; sleep 0.05; done
    DMTCP_PORT=$(cat "$WORK/dmtcp.port")
  esac
}

dmtcp_cmd() { "$DMTCP_BIN/dmtcp_command" -h 127.0.0.1 -p "$DMTCP_PORT" "$@"; }

# Kills the program and, once the job is over, its coordinator.
kill_program() {
  [ -n "$PID" ] && { kill -9 "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; }
  PID=""
}
stop_job() {
  kill_program
  if [ -n "$DMTCP_PORT" ]; then dmtcp_cmd --quit >/dev/null 2>&1 || true; DMTCP_PORT=""; fi
  if [ -f "$WORK/ckpt/coordinator.json" ]; then
    local cpid
    cpid=$(sed -n 's/.*"pid": *\([0-9]*\).*/\1/p' "$WORK/ckpt/coordinator.json" 2>/dev/null || true)  # it may be leaving
    [ -n "$cpid" ] && kill "$cpid" 2>/dev/null || true
  fi
}

launch_job() { # mode out prog args...
  local mode=$1 out=$2 flags=()
  shift 2
  case $mode in
    stasis-*)
      [ "$mode" = stasis-none ] && flags=(--compress none)
      [ "$mode" = stasis-forked ] && flags=(--forked)
      $STASIS launch "${flags[@]}" --ckpt-dir "$WORK/ckpt" -- "$@" >"$out" 2>"$out.err" & ;;
    dmtcp-*)
      [ "$mode" = dmtcp-nogzip ] && flags=(--no-gzip) || flags=(--gzip)
      "$DMTCP_BIN/dmtcp_launch" -q -q -j -h 127.0.0.1 -p "$DMTCP_PORT" "${flags[@]}" --ckptdir "$WORK/ckpt" "$@" >"$out" 2>"$out.err" & ;;
  esac
  PID=$!
}

# One checkpoint of the running job: prints "wall_seconds image_bytes".
# dmtcp_command --bcheckpoint returns at once in this DMTCP (4.2.0), so the
# end is polled: the coordinator has written its restart script and its
# peers run again (every 5 ms; a status query costs ~2 ms).
checkpoint_job() { # mode
  local t0 t1 json bytes
  t0=$EPOCHREALTIME
  case $1 in
    stasis-*)
      json=$($STASIS command --ckpt-dir "$WORK/ckpt" --checkpoint --json)
      t1=$EPOCHREALTIME
      bytes=$(echo "$json" | sed -n 's/.*"bytes": *\([0-9]*\).*/\1/p') ;;
    dmtcp-*)
      dmtcp_cmd --checkpoint >/dev/null
      until [ -e "$WORK/ckpt/dmtcp_restart_script.sh" ] && dmtcp_cmd --status | grep -q 'RUNNING=yes'; do
        [ $(( ${EPOCHREALTIME%.*} - ${t0%.*} )) -gt 300 ] && { echo "bench: DMTCP checkpoint did not finish in 300 s" >&2; exit 1; }
        sleep 0.005
      done
      t1=$EPOCHREALTIME
      bytes=$(stat -c %s "$WORK"/ckpt/ckpt_*.dmtcp | awk '{ s += $1 } END { print s }') ;;
  esac
  echo "$(echo "$t1 - $t0" | bc -l) $bytes"
}

restart_job() { # mode out
  case $1 in
    stasis-*) $STASIS restart "$WORK/ckpt" >"$2" 2>"$2.err" & ;;
    dmtcp-*) "$DMTCP_BIN/dmtcp_restart" -q -q -j -h 127.0.0.1 -p "$DMTCP_PORT" "$WORK"/ckpt/ckpt_*.dmtcp >"$2" 2>"$2.err" & ;;
  esac
  PID=$!
}
