#!/bin/sh
':' //; d=$(dirname "$(readlink -f "$0")"); h="$d/../native/build/stasis-handover"; [ -x "$h" ] && exec "$h" node "$d/dmtcp_launch.js" "$@"; exec node "$d/dmtcp_launch.js" "$@"
// dmtcp_launch: DMTCP's command line over stasis (src/cli/dmtcp/launch.ts). Started
// like bin/stasis.js, through stasis-handover, so inherited descriptors reach
// the program as they came.
import '../dist/src/cli/dmtcp/launch.js';
