#!/usr/bin/env bash
# The test command (README): installs what is missing, builds, runs the whole suite, and ends
# with one plain line "N passed, N failed" that CI reads.
set -uo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-test-deps.sh || { echo "0 passed, 1 failed"; exit 1; }
npm run build --silent || { echo "build failed"; echo "0 passed, 1 failed"; exit 1; }

mkdir -p test-results
npx vitest run --reporter=default --reporter=json --outputFile.json=test-results/vitest.json "$@"
status=$?

if [ -f test-results/vitest.json ]; then
  node -e '
    const r = JSON.parse(require("fs").readFileSync("test-results/vitest.json", "utf8"));
    const failed = r.numFailedTests + (r.numFailedTestSuites && !r.numFailedTests ? r.numFailedTestSuites : 0);
    console.log(`${r.numPassedTests} passed, ${failed} failed, ${r.numPendingTests + r.numTodoTests} skipped`);
  '
else
  echo "0 passed, 1 failed"
  status=1
fi
exit $status
