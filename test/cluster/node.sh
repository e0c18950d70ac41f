#!/usr/bin/env bash
# Starts one node's daemons. up.sh runs it as
#   nsenter -t <node's init> -a node.sh nK
# so it is already inside the node's network, mount, UTS, IPC and pid
# namespaces (the init's unshare has mounted the node's own /proc). Only
# /tmp, /dev/shm, /dev/mqueue, /etc/hosts and /etc/ssh/ssh_config differ from
# the host: the repo, node binary and state dir stay shared, as on a cluster
# with a shared FS. The daemons daemonize, so the init becomes their parent.
set -euo pipefail
[ -n "${STASIS_CLUSTER_TRACE:-}" ] && set -x
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
. "$here/lib.sh"

node=$1
dir=$STATE/nodes/$node
hostname "$node"   # own UTS namespace: anything keyed on hostname sees nK

# A private /tmp. The state dir and the repo (a CI clone may live under
# /tmp) would vanish under the new /tmp, so bind them back at the same paths
# first (--rbind below carries those submounts along).
repo=$(cd "$here/../.." && pwd)
for keep in "$STATE" "$repo"; do
  if [ "${keep#/tmp/}" != "$keep" ]; then
    mkdir -p "$dir/tmp/${keep#/tmp/}"
    mount --bind "$keep" "$dir/tmp/${keep#/tmp/}"
  fi
done
mount --rbind "$dir/tmp" /tmp
# POSIX shared memory and message queues of this node only, as on a real
# host (the mqueue fs shows the IPC namespace of whoever mounts it).
mount -t tmpfs -o mode=1777,nosuid,nodev "shm-$node" /dev/shm
if [ -d /dev/mqueue ]; then mount -t mqueue "mqueue-$node" /dev/mqueue; fi
# Names of the nodes and controller as seen from inside (the host's
# /etc/hosts maps its hostname to 127.0.0.1, which is the node's own loopback here).
mount --bind "$STATE/etc/hosts" /etc/hosts
# `ssh nK` from a job finds the cluster key and host keys, with no ~/.ssh.
mount --bind "$STATE/ssh/config" /etc/ssh/ssh_config

/usr/sbin/slurmd -f "$CONF" -N "$node"
/usr/sbin/sshd -f "$dir/sshd_config"
