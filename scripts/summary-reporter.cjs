// Mocha reporter: the usual spec output, plus the counts written to $TEST_SUMMARY_FILE as JSON so
// .ci/run can print the plain "N passed, N failed" line CI reads.
const Mocha = require('mocha');
const fs = require('node:fs');

class SummaryReporter extends Mocha.reporters.Spec {
  constructor(runner, options) {
    super(runner, options);
    runner.once(Mocha.Runner.constants.EVENT_RUN_END, () => {
      const file = process.env.TEST_SUMMARY_FILE;
      if (!file) return;
      const { passes, failures, pending } = runner.stats;
      fs.writeFileSync(file, JSON.stringify({ passed: passes, failed: failures, pending }) + '\n');
    });
  }
}
module.exports = SummaryReporter;
