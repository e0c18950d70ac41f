#!/usr/bin/env bash
# Installs every Debian package the build, the demo and the tests need.
# apt-get update runs once per machine (marker in /var/lib/stasis).
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
PKGS=(build-essential pkg-config libzstd-dev liblz4-dev libxxhash-dev zstd python3 sqlite3 libsqlite3-dev
      slurm-wlm slurm-wlm-torque munge openssh-server openssh-client iproute2 bridge-utils
      openmpi-bin libopenmpi-dev mpich libmpich-dev python3-mpi4py procps psmisc debootstrap bc
      # test/real: ordinary programs from Debian's archive, checkpointed and restarted
      bash dash coreutils gawk perl make tar gzip gfortran
      # test/real/sockets: programs that hold sockets (a server and its own client; a JVM, javac for its program)
      redis-server redis-tools default-jdk-headless
      # the plugin API's PostgreSQL example
      postgresql libpq-dev)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "install-deps: missing packages (${missing[*]}) and not root: install them and retry" >&2
    exit 1
  fi
  mkdir -p /var/lib/stasis
  if [ ! -f /var/lib/stasis/apt-updated ]; then
    apt-get update -q && touch /var/lib/stasis/apt-updated
  fi
  apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
