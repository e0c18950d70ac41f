# Names and addresses shared by up.sh, node.sh and down.sh (sourced, not run).
# Everything the test cluster creates is named here, so down.sh can remove
# exactly what up.sh made and nothing else.

# STASIS_CLUSTER_ID (0-9, default 0) lets several test clusters run side by
# side (one per developer worktree): every name, subnet and port below
# depends on it; cluster 0 keeps the historical names.
ID=${STASIS_CLUSTER_ID:-0}
case "$ID" in [0-9]) ;; *) echo "cluster: STASIS_CLUSTER_ID must be 0-9, not '$ID'" >&2; exit 2 ;; esac
if [ "$ID" = 0 ]; then SUFFIX=""; else SUFFIX="$ID"; fi
STATE=${STASIS_CLUSTER_DIR:-/tmp/stasis-cluster${SUFFIX:+-$SUFFIX}}
STATE=${STATE%/}
case "$STATE" in
  /?*/?*) ;; # at least two levels deep: we rm -rf it on the next bring-up
  *) echo "cluster: refusing state dir '$STATE' (need an absolute path two levels deep)" >&2; exit 2 ;;
esac

NODES=(n1 n2 n3 n4)
BRIDGE=stasisbr$ID        # a bridge we create; the test subnet lives only on it
SUBNET=10.77.$ID          # private test subnet, never routed anywhere
CTL_IP=$SUBNET.1          # the controller: the bridge address in the root namespace
CTL_PORT=$((16817 + 10 * ID)) # not Slurm's default 6817, so a system slurmctld cannot collide
SLURMD_PORT=$((CTL_PORT + 1))
NETNS_PREFIX=stasis$SUFFIX-  # network namespace of node nK is stasis-nK (cluster 0)
CONF=$STATE/etc/slurm.conf
MUNGE_SOCKET=$STATE/munge/munge.socket

node_ip() { echo "$SUBNET.1${1#n}"; } # n1 -> 10.77.0.11
node_ns() { echo "$NETNS_PREFIX$1"; }
host_veth() { echo "stasis-v$SUFFIX${1#n}"; } # root-namespace end of node nK's cable

# Slurm clients with no SLURM_CONF look the controller up by DNS SRV,
# i.e. send traffic off the machine; always point them at our file.
export SLURM_CONF=$CONF
