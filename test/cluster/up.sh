#!/usr/bin/env bash
# Brings up a real Slurm cluster on this machine: munged, slurmctld on the
# bridge address, and nodes n1..n4, each in its own network namespace (own
# IP), mount namespace (private /tmp, own /proc), UTS namespace (hostname
# nK), IPC namespace and pid namespace (pid 1: node_init), each running its
# own slurmd and sshd. All state lives under $STASIS_CLUSTER_DIR
# (default /tmp/stasis-cluster); $STATE/env is what tests source.
# Traffic stays on loopback and the bridge we create: no default route in the
# namespaces, SLURM_CONF always set (no DNS SRV lookups), IPs in configs.
# On any failure it runs down.sh, so a failed bring-up leaves nothing behind.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
. "$here/lib.sh"
start_us=${EPOCHREALTIME/./}

fail() { echo "up: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || fail "must run as root"
for c in ip nsenter unshare slurmctld slurmd sinfo scontrol munged sshd ssh-keygen runuser; do
  command -v "$c" >/dev/null || fail "missing command: $c"
done
NODE_INIT=$(readlink -f "$here/../../native/build/programs/node_init") # as /proc/PID/exe shows it
[ -x "$NODE_INIT" ] || fail "missing $NODE_INIT (npm run build)"

# Start from nothing: stop a previous cluster of this state dir, then wipe it.
"$here/down.sh" >/dev/null
if grep -qF " $STATE" /proc/self/mountinfo; then fail "something is mounted under $STATE"; fi
rm -rf "$STATE"
trap 'rc=$?; if [ $rc != 0 ]; then echo "up: failed (rc $rc), tearing down; logs in $STATE/log" >&2; "$here/down.sh" >&2 || true; fi' EXIT

mkdir -p "$STATE"/{etc,log,run,state,spool,shared,ssh,munge}
chmod 755 "$STATE"
chmod 1777 "$STATE/shared"   # job scripts and outputs, visible on every node
for n in "${NODES[@]}"; do
  mkdir -p "$STATE/spool/$n" "$STATE/nodes/$n/tmp"
  chmod 1777 "$STATE/nodes/$n/tmp"
  echo "$n" > "$STATE/nodes/$n/tmp/stasis-node-marker" # proves which /tmp a process sees
done

. "$here/config.sh"   # writes slurm.conf, hosts, ssh keys and configs
write_configs

# munged on its own socket/pid/seed so it never touches a system munged.
chown munge:munge "$STATE/munge"; chmod 711 "$STATE/munge" # clients need to reach the socket
runuser -u munge -- /usr/sbin/munged --socket="$MUNGE_SOCKET" \
  --pid-file="$STATE/munge/munged.pid" --log-file="$STATE/munge/munged.log" \
  --seed-file="$STATE/munge/munged.seed" </dev/null >>"$STATE/log/munged.stdio" 2>&1

# Network: a bridge holding the controller address, one veth per node.
for n in "${NODES[@]}"; do
  [ ! -e "/run/netns/$(node_ns "$n")" ] || fail "netns $(node_ns "$n") exists and is not this state dir's: another test cluster?"
done
ip link show "$BRIDGE" >/dev/null 2>&1 && fail "bridge $BRIDGE exists and is not this state dir's: another test cluster?"
ip link add "$BRIDGE" type bridge
cat "/sys/class/net/$BRIDGE/ifindex" > "$STATE/run/bridge-ifindex" # down.sh removes only this one
ip addr add "$CTL_IP/24" dev "$BRIDGE"
ip link set "$BRIDGE" up
for n in "${NODES[@]}"; do
  ns=$(node_ns "$n"); v=$(host_veth "$n")
  ip netns add "$ns"
  stat -L -c %i "/run/netns/$ns" >> "$STATE/run/netns-inodes"
  ip link add "$v" type veth peer name eth0 netns "$ns"
  echo "$n:$(cat "/sys/class/net/$v/ifindex")" >> "$STATE/run/veth-ifindexes"
  ip link set "$v" master "$BRIDGE" up
  ip -n "$ns" addr add "$(node_ip "$n")/24" dev eth0
  ip -n "$ns" link set eth0 up
  ip -n "$ns" link set lo up
done

# Daemons get no stdio of ours: a caller reading our output (execa) would
# otherwise wait for them to exit.
/usr/sbin/slurmctld -f "$CONF" </dev/null >>"$STATE/log/slurmctld.stdio" 2>&1
# Wait until it answers; stop early if it died (its pid file then names a dead pid).
until scontrol ping 2>/dev/null | grep -q 'is UP'; do
  pid=$(cat "$STATE/run/slurmctld.pid" 2>/dev/null || true)
  if [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null; then
    fail "slurmctld died: $(tail -n 3 "$STATE/log/slurmctld.log")"
  fi
  [ "$(date +%s)" -lt "$(( ${start_us:0:-6} + 50 ))" ] || fail "slurmctld not answering after 50 s"
  sleep 0.2
done

# A node = a network namespace, then mount, UTS, IPC and pid namespaces
# made by unshare, whose pid 1 is node_init (reaps orphans; when it dies the
# kernel kills the whole node). /proc is remounted inside for the new pid
# namespace, so slurmd (proctrack/linuxproc), ssh sessions and job steps see
# only the node's processes. node.sh then starts the daemons inside all of it.
# nsenter rather than `ip netns exec`: the latter remounts /sys, hiding
# /sys/fs/cgroup, and slurmd 22.05 refuses to start without it.
for n in "${NODES[@]}"; do
  nsenter --net="/run/netns/$(node_ns "$n")" \
    unshare --mount --uts --ipc --pid --fork --mount-proc --propagation private "$NODE_INIT" \
    </dev/null >>"$STATE/log/node-$n.stdio" 2>&1 &
  outer=$! # unshare, in the root pid namespace; its only child is the node's init
  init=""
  until [ -n "$init" ] && [ "$(readlink "/proc/$init/exe" 2>/dev/null)" = "$NODE_INIT" ]; do
    kill -0 "$outer" 2>/dev/null || fail "node $n: init did not start: $(tail -n 5 "$STATE/log/node-$n.stdio")"
    [ "$(date +%s)" -lt "$(( ${start_us:0:-6} + 50 ))" ] || fail "node $n: init not running after 50 s"
    read -r init _ < "/proc/$outer/task/$outer/children" || true
    [ -n "$init" ] || sleep 0.05
  done
  # The init as the root namespace numbers it: down.sh stops the node by it,
  # and onNode() enters every namespace of the node through it.
  echo "$init" > "$STATE/run/node-$n.init"
  echo "$init" > "$STATE/run/node-$n.anchor"
  nsenter -t "$init" -a "$here/node.sh" "$n" </dev/null >>"$STATE/log/node-$n.stdio" 2>&1 \
    || fail "node $n did not start: $(tail -n 5 "$STATE/log/node-$n.stdio")"
done

# Ready = every node idle in sinfo and every sshd answering. Poll, bounded.
deadline=$(( $(date +%s) + 50 ))
until [ "$(sinfo -h -N -o '%N %T' 2>/dev/null | grep -c ' idle$')" = "${#NODES[@]}" ]; do
  [ "$(date +%s)" -lt "$deadline" ] || fail "nodes not idle in time: $(sinfo -h -N -o '%N %T' | tr '\n' ' ')"
  sleep 0.2
done
for n in "${NODES[@]}"; do
  until ssh -F "$STATE/ssh/config" "$n" true 2>/dev/null; do
    [ "$(date +%s)" -lt "$deadline" ] || fail "sshd on $n not answering"
    sleep 0.2
  done
done

us=$(( ${EPOCHREALTIME/./} - start_us ))
secs=$(printf '%d.%02d' $((us / 1000000)) $((us % 1000000 / 10000)))
write_env "$secs"
echo "up: ${#NODES[@]} nodes idle in ${secs}s; source $STATE/env"
