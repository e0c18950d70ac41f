#!/bin/sh
':' //; d=$(dirname "$(readlink -f "$0")"); h="$d/../native/build/stasis-handover"; [ -x "$h" ] && exec "$h" node "$d/dmtcp_command.js" "$@"; exec node "$d/dmtcp_command.js" "$@"
// dmtcp_command: DMTCP's command line over stasis (src/cli/dmtcp/command.ts). Started
// like bin/stasis.js, through stasis-handover, so inherited descriptors reach
// the program as they came.
import '../dist/src/cli/dmtcp/command.js';
