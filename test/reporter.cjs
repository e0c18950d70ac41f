// Mocha's spec reporter plus the plain closing line CI reads:
// "N passed, N failed, N skipped". Skips must print their reason themselves.
// Under the test matrix (scripts/test-modes.sh, STASIS_TEST_MODE set) the line
// names the mode: "mode forked: N passed, N failed, N skipped".
'use strict';
const Mocha = require('mocha');
const { Spec } = Mocha.reporters;
const { EVENT_RUN_END } = Mocha.Runner.constants;

class StasisReporter extends Spec {
  constructor(runner, options) {
    super(runner, options);
    runner.once(EVENT_RUN_END, () => {
      const s = runner.stats;
      const mode = process.env.STASIS_TEST_MODE ? `mode ${process.env.STASIS_TEST_MODE}: ` : '';
      process.stdout.write(`\n${mode}${s.passes} passed, ${s.failures} failed, ${s.pending} skipped\n`);
    });
  }
}
module.exports = StasisReporter;
