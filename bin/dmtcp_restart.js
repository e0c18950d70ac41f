#!/bin/sh
':' //; d=$(dirname "$(readlink -f "$0")"); h="$d/../native/build/stasis-handover"; [ -x "$h" ] && exec "$h" node "$d/dmtcp_restart.js" "$@"; exec node "$d/dmtcp_restart.js" "$@"
// dmtcp_restart: DMTCP's command line over stasis (src/cli/dmtcp/restart.ts). Started
// like bin/stasis.js, through stasis-handover, so inherited descriptors reach
// the program as they came.
import '../dist/src/cli/dmtcp/restart.js';
