#!/bin/sh
':' //; d=$(dirname "$(readlink -f "$0")"); h="$d/../native/build/stasis-handover"; [ -x "$h" ] && exec "$h" node "$d/dmtcp_coordinator.js" "$@"; exec node "$d/dmtcp_coordinator.js" "$@"
// dmtcp_coordinator: DMTCP's command line over stasis (src/cli/dmtcp/coordinator.ts). Started
// like bin/stasis.js, through stasis-handover, so inherited descriptors reach
// the program as they came.
import '../dist/src/cli/dmtcp/coordinator.js';
