#!/usr/bin/env bash
# Exact pids through a pid namespace, measured against a plain fork in the
# same run (the option stasis did not take: see docs/user-guide.md, pids).
set -euo pipefail
cd "$(dirname "$0")/.."
out=$(mktemp -d "${TMPDIR:-/tmp}/stasis-pidns.XXXXXX")
trap 'rm -rf "$out"' EXIT
gcc -O2 -Wall -Wextra -Werror -o "$out/pid-namespace" bench/pid-namespace.c
"$out/pid-namespace"
