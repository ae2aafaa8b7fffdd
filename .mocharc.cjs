// Tests run from the compiled output of every workspace (`npm run build` first).
// The summary reporter prints mocha's spec output and writes the counts .ci/run reports.
module.exports = {
  spec: [
    'model-core/dist/test/**/*.test.js',
    'data-engineering/dist/test/**/*.test.js',
    'tracking/dist/test/**/*.test.js',
    'data-science/dist/test/**/*.test.js',
    'demo-api/dist/test/**/*.test.js',
    'platform/dist/test/**/*.test.js',
  ],
  reporter: require.resolve('./scripts/summary-reporter.cjs'),
  timeout: 120000,
  exit: true,
};
