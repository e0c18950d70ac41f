#!/bin/sh
':' //; d=$(dirname "$(readlink -f "$0")"); h="$d/../native/build/stasis-handover"; [ -x "$h" ] && exec "$h" node "$d/stasis.js" "$@"; exec node "$d/stasis.js" "$@"
// Run as a program, the line above starts Node through stasis-handover,
// which keeps the descriptors this command inherited out of Node's reach so
// that `launch` and `restart` hand them on as they got them (handover.c).
// `node bin/stasis.js` works too, without that guarantee for fds 3 to ~15.
import '../dist/src/cli/index.js';
