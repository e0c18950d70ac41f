#!/usr/bin/env bash
# Creates, once, a Debian 13 (trixie) chroot in which the core suite builds
# and runs its programs against a newer glibc (test/trixie/trixie.test.ts).
# Cached: a complete chroot carries a stamp file and is reused as it is.
#   STASIS_TRIXIE_ROOT    where (default /var/cache/stasis/trixie)
#   STASIS_TRIXIE_MIRROR  Debian mirror (default: the one apt uses here)
# Exit 0: ready (last line "ready ROOT glibc VERSION"). Otherwise exit 3 and
# a last line "unavailable: REASON" that the test suite prints when it skips.
# (All in one block: bash reads it whole, so editing this file while it runs is harmless.)
{
set -uo pipefail
ROOT=${STASIS_TRIXIE_ROOT:-/var/cache/stasis/trixie}
SUITE=trixie
# What the programs and the suite need: gcc and libc6-dev to build
# test/programs/*.c, python3 and bash for the interpreter cases, libzstd1
# for libstasis.so (built on the host, preloaded into the chroot's programs).
INCLUDE=gcc,libc6-dev,python3-minimal,libzstd1
STAMP=$ROOT/.stasis-complete
WANT="suite=$SUITE include=$INCLUDE"

unavailable() { echo "unavailable: $*"; exit 3; }
glibc() { "$ROOT"/usr/bin/ldd --version 2>/dev/null | head -1 | grep -oE '[0-9]+\.[0-9]+$'; }

if [ -f "$STAMP" ] && [ "$(head -1 "$STAMP")" = "$WANT" ]; then
  echo "ready $ROOT glibc $(glibc)"
  exit 0
fi
[ "$(id -u)" = 0 ] || unavailable "not root: debootstrap and chroot need root"
command -v debootstrap >/dev/null || unavailable "debootstrap is not installed (scripts/install-deps.sh installs it)"
[ -e /usr/share/debootstrap/scripts/$SUITE ] || unavailable "this debootstrap ($(dpkg-query -W -f='${Version}' debootstrap 2>/dev/null)) does not know $SUITE"

# The mirror apt is configured with here (deb822 .sources or sources.list):
# the first Debian archive that is not the security one.
mirror() {
  local f u
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    for u in $(awk '/^URIs:/{for(i=2;i<=NF;i++)print $i}' "$f"); do
      case $u in *security*) ;; */debian|*/debian/) echo "${u%/}"; return ;; esac
    done
  done
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -f "$f" ] || continue
    for u in $(awk '$1=="deb"{for(i=2;i<=NF;i++) if ($i ~ /^[a-z]+:\/\//) {print $i; break}}' "$f"); do
      case $u in *security*) ;; */debian|*/debian/) echo "${u%/}"; return ;; esac
    done
  done
  echo http://deb.debian.org/debian
}
MIRROR=${STASIS_TRIXIE_MIRROR:-$(mirror)}
# and apt's proxy, if it has one
eval "$(apt-config shell HTTP_PROXY Acquire::http::Proxy HTTPS_PROXY Acquire::https::Proxy 2>/dev/null)"
[ -n "${HTTP_PROXY:-}" ] && export http_proxy=$HTTP_PROXY
[ -n "${HTTPS_PROXY:-}" ] && export https_proxy=$HTTPS_PROXY

mkdir -p "$(dirname "$ROOT")"
exec 9>"$ROOT.lock"
flock 9
# another run may have finished it while this one waited
if [ -f "$STAMP" ] && [ "$(head -1 "$STAMP")" = "$WANT" ]; then
  echo "ready $ROOT glibc $(glibc)"
  exit 0
fi
# A partial chroot from an interrupted debootstrap (tests only use complete
# ones, and the lock keeps other setups out): unmount what debootstrap left
# mounted inside (/proc, /sys), deepest first, then start over.
mounts_inside() { awk -v r="$ROOT" '$5 == r || index($5, r "/") == 1 {print $5}' /proc/self/mountinfo | sort -r; }
if [ -e "$ROOT" ]; then
  for m in $(mounts_inside); do umount "$m" 2>/dev/null || umount -l "$m"; done
  [ -z "$(mounts_inside)" ] || unavailable "$ROOT has mounts inside it that cannot be unmounted: $(mounts_inside | tr '\n' ' ')"
  rm -rf --one-file-system "$ROOT"
fi
LOG=$ROOT.log
echo "debootstrap --variant=minbase --include=$INCLUDE $SUITE $ROOT $MIRROR${http_proxy:+ (proxy $http_proxy)}" >&2
t0=$(date +%s)
if ! debootstrap --variant=minbase --include="$INCLUDE" "$SUITE" "$ROOT" "$MIRROR" >"$LOG" 2>&1; then
  tail -5 "$LOG" >&2
  reason=$(grep -E '^(E|W): ' "$LOG" | tail -1)
  rm -rf --one-file-system "$ROOT"
  unavailable "debootstrap $SUITE from $MIRROR failed: ${reason:-see $LOG}"
fi
# apt caches are not needed: keep the chroot small
rm -rf "$ROOT"/var/cache/apt/archives/*.deb "$ROOT"/var/lib/apt/lists/*_Packages
v=$(glibc)
[ -x "$ROOT/usr/bin/gcc" ] && [ -x "$ROOT/usr/bin/python3" ] && [ -n "$v" ] || unavailable "the chroot in $ROOT lacks gcc, python3 or glibc"
{ echo "$WANT"; echo "mirror=$MIRROR glibc=$v seconds=$(( $(date +%s) - t0 )) size=$(du -sh --one-file-system "$ROOT" | cut -f1)"; } >"$STAMP"
echo "debootstrap took $(( $(date +%s) - t0 )) s, $(du -sh --one-file-system "$ROOT" | cut -f1)" >&2
echo "ready $ROOT glibc $v"
exit 0
}
