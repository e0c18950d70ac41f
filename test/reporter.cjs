// Mocha's spec reporter plus the plain closing line CI reads:
// "N passed, N failed, N skipped". Skips must print their reason themselves.
// Under the test matrix (scripts/test-modes.sh, STASIS_TEST_MODE set) the line
// names the mode: "mode forked: N passed, N failed, N skipped".
// With STASIS_TEST_SUMMARY set, each failure's title and the start of its
// message (its first 30 and last 10 lines: a message says what failed
// first, a command's output after) are appended to that file: scripts/test-all.sh prints them last, so a log
// cut to its tail (CI) still says what failed in the earlier runs.
'use strict';
const { appendFileSync } = require('node:fs');
const Mocha = require('mocha');
const { Spec } = Mocha.reporters;
const { EVENT_RUN_END, EVENT_TEST_FAIL } = Mocha.Runner.constants;

class StasisReporter extends Spec {
  constructor(runner, options) {
    super(runner, options);
    const mode = process.env.STASIS_TEST_MODE ? `mode ${process.env.STASIS_TEST_MODE}: ` : '';
    const failed = [];
    runner.on(EVENT_TEST_FAIL, (test, err) => {
      const all = String((err && err.message) || err).split('\n');
      const kept = all.length > 40 ? [...all.slice(0, 30), `[${all.length - 40} lines]`, ...all.slice(-10)] : all;
      const lines = kept.map((l) => `    ${l.slice(0, 300)}`);
      failed.push(`${mode || 'default: '}${test.fullTitle()}\n${lines.join('\n')}\n`);
    });
    runner.once(EVENT_RUN_END, () => {
      const s = runner.stats;
      process.stdout.write(`\n${mode}${s.passes} passed, ${s.failures} failed, ${s.pending} skipped\n`);
      if (process.env.STASIS_TEST_SUMMARY && failed.length) appendFileSync(process.env.STASIS_TEST_SUMMARY, failed.join(''));
    });
  }
}
module.exports = StasisReporter;
