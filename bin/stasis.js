#!/bin/sh
':' //; d=; case $0 in */*) [ -L "$0" ] || d=${0%/*};; esac; [ -n "$d" ] || { d=$(readlink -f "$0"); d=${d%/*}; }; f="$d/../native/build/stasis-front"; [ -x "$f" ] && exec "$f" "$d/stasis.js" "$@"; exec node "$d/stasis.js" "$@"
// Run as a program, the line above starts stasis-front (no subprocess unless
// this file is reached through a symlink): `launch` joining a running
// coordinator and `command` run there without Node (native/launch/front*.c);
// everything else starts Node through the descriptor hand-over, which keeps
// the descriptors this command inherited out of Node's reach so that
// `launch` and `restart` hand them on as they got them (handover.c).
// `node bin/stasis.js` works too, without that guarantee for fds 3 to ~15.
import '../dist/src/cli/index.js';
