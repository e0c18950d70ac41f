#!/usr/bin/env bash
# Tears down what up.sh started, and only that: each node's init (pid 1 of
# the node's pid namespace; when it exits the kernel kills everything in the
# node: daemons, ssh sessions, job steps), whatever else still runs inside
# our node namespaces, slurmctld and munged, the namespaces, veths and
# bridge. Idempotent; exits non-zero if anything is left. Keeps $STATE (logs)
# for inspection; `down.sh --purge` removes it too.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
. "$here/lib.sh"

# Pid of a pid file if that process is still the daemon we started (a
# recycled pid running something else is left alone).
live_pid() { # pidfile exe
  local pid
  pid=$(cat "$1" 2>/dev/null) || return 1
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  [ "$(readlink "/proc/$pid/exe" 2>/dev/null)" = "$(readlink -f "$2")" ] || return 1 # slurm*d are alternatives symlinks
  echo "$pid"
}

# TERM, wait up to 5 s, then KILL; returns once all are gone.
stop_pids() {
  [ $# -gt 0 ] || return 0
  kill -TERM "$@" 2>/dev/null || true
  local i p alive
  for i in $(seq 50); do
    alive=()
    for p in "$@"; do [ -d "/proc/$p" ] && alive+=("$p"); done
    [ ${#alive[@]} -gt 0 ] || return 0
    sleep 0.1
  done
  kill -KILL "${alive[@]}" 2>/dev/null || true
  for i in $(seq 50); do
    for p in "${alive[@]}"; do [ -d "/proc/$p" ] && { sleep 0.1; continue 2; }; done
    return 0
  done
}

# Ours = made by up.sh for this state dir, which recorded each one's identity;
# a namesake made by someone else is left alone.
ours_netns() {
  local ino
  ino=$(stat -L -c %i "/run/netns/$(node_ns "$1")" 2>/dev/null) && grep -qx "$ino" "$STATE/run/netns-inodes" 2>/dev/null
}
ours_bridge() {
  local idx
  idx=$(cat "/sys/class/net/$BRIDGE/ifindex" 2>/dev/null) && [ "$idx" = "$(cat "$STATE/run/bridge-ifindex" 2>/dev/null)" ]
}
ours_veth() {
  local idx
  idx=$(cat "/sys/class/net/$(host_veth "$1")/ifindex" 2>/dev/null) && grep -qx "$n:$idx" "$STATE/run/veth-ifindexes" 2>/dev/null
}

# A node's init, by the root-namespace pid up.sh recorded, if that process
# is still node_init, pid 1 of its pid namespace, and in our network
# namespace of the node. Daemons' pid files inside a node hold pids of the
# node's namespace: useless here.
live_init() { # node
  local pid
  pid=$(cat "$STATE/run/node-$1.init" 2>/dev/null) || return 1
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  [[ "$(readlink "/proc/$pid/exe" 2>/dev/null)" =~ /node_init( \(deleted\))?$ ]] || return 1
  grep -qP '^NSpid:\t\d+\t1$' "/proc/$pid/status" 2>/dev/null || return 1
  ours_netns "$1" || return 1
  [ "$(stat -L -c %i "/proc/$pid/ns/net" 2>/dev/null)" = "$(stat -L -c %i "/run/netns/$(node_ns "$1")")" ] || return 1
  echo "$pid"
}

# Namespaces are known by inode, and the kernel gives a freed namespace's
# inode to the next new one (another test cluster's, say). So we hold each
# namespace of ours open (a descriptor keeps it alive) from before we stop
# anything until after the check: while held, its inode is ours alone.
held_inodes=$(mktemp)
held_fds=()
hold() { # /proc/PID/ns/KIND or /run/netns/NAME
  local fd
  [ -r "$1" ] || return 0
  exec {fd}<"$1" || return 0
  held_fds+=("$fd")
  stat -L -c %i "/proc/$$/fd/$fd" >> "$held_inodes"
}
release() {
  local fd
  for fd in "${held_fds[@]}"; do exec {fd}<&-; done
  held_fds=()
  rm -f "$held_inodes"
}

# Processes in a held namespace of any of these kinds (net, mnt, pid, ipc).
in_our_ns() { # kind...
  local kind
  [ -s "$held_inodes" ] || return 0
  for kind in "$@"; do
    stat -L -c '%i %n' /proc/[0-9]*/ns/"$kind" 2>/dev/null |
      awk 'NR == FNR { ours[$1] = 1; next } ($1 in ours) { split($2, p, "/"); print p[3] }' "$held_inodes" - || true
  done
}

inits=()
for n in "${NODES[@]}"; do
  if ours_netns "$n"; then hold "/run/netns/$(node_ns "$n")"; fi
  if p=$(live_init "$n"); then
    inits+=("$p")
    for kind in mnt pid ipc; do hold "/proc/$p/ns/$kind"; done
  fi
done

# The inits pass SIGTERM on to their node and exit; the kernel kills the rest.
stop_pids "${inits[@]}"
# Processes of a dead pid namespace die asynchronously; give them a moment.
for i in $(seq 50); do [ -z "$(in_our_ns pid)" ] && break; sleep 0.1; done

# Anything else still in a node's network namespace (an init up.sh did not
# get to record, the unshare above each init, an nsenter from onNode()) is
# ours: it was started inside our namespaces.
for n in "${NODES[@]}"; do
  ours_netns "$n" || continue
  mapfile -t left < <(ip netns pids "$(node_ns "$n")" 2>/dev/null)
  stop_pids "${left[@]}"
done

p=$(live_pid "$STATE/run/slurmctld.pid" /usr/sbin/slurmctld) && stop_pids "$p"
p=$(live_pid "$STATE/munge/munged.pid" /usr/sbin/munged) && stop_pids "$p"

# Check: nothing of ours left running (in a namespace we hold), mounted or configured.
bad=""
for p in $(in_our_ns net mnt pid ipc | sort -un); do bad+=" pid-in-ns:$p"; done
release # the network namespaces must go, to take their veths with them

for n in "${NODES[@]}"; do
  if ours_netns "$n"; then ip netns del "$(node_ns "$n")"; fi
  # Deleting the namespace destroys its veth pair, but asynchronously: the
  # host end may vanish between our check and our delete.
  if ours_veth "$n"; then ip link del "$(host_veth "$n")" 2>/dev/null || true; fi
done
if ours_bridge; then ip link del "$BRIDGE"; fi

for n in "${NODES[@]}"; do
  ours_netns "$n" && bad+=" netns:$(node_ns "$n")"
done
ours_bridge && bad+=" bridge:$BRIDGE"
for n in "${NODES[@]}"; do
  for i in $(seq 20); do ours_veth "$n" || break; sleep 0.1; done
  ours_veth "$n" && bad+=" link:$(host_veth "$n")"
done
grep -qF "$STATE" /proc/self/mountinfo && bad+=" mount-under:$STATE"
if [ -n "$bad" ]; then echo "down: left behind:$bad" >&2; exit 1; fi

if [ "${1:-}" = --purge ]; then rm -rf "$STATE"; fi
echo "down: clean"
