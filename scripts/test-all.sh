#!/usr/bin/env bash
# `npm test` (after the build): every spec in the default modes, then the
# mode matrix (scripts/test-modes.sh); the failures of all of them are
# printed again at the very end, where a log cut to its tail still shows them.
set -uo pipefail
cd "$(dirname "$0")/.."
summary=$(mktemp /tmp/stasis-test-failures.XXXXXX)
trap 'rm -f "$summary"' EXIT
export STASIS_TEST_SUMMARY=$summary
npx mocha; status=$?
bash scripts/test-modes.sh || status=1
if [[ -s $summary ]]; then
  echo; echo "== failed tests (all runs):"; cat "$summary"
fi
echo "== npm test: $([[ $status == 0 ]] && echo passed || echo FAILED)"
exit $status
