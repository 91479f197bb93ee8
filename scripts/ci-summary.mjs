// Prints the closing line CI reads ("N passed, N failed") from one or more vitest JSON reports (one per Node version;
// every report is counted, and a missing or empty one is a failure), counting each failed non-test step
// (`--failed-step NAME`, e.g. lint or the test typecheck) as one failure. Each report's own line goes to stderr.
import { existsSync, readFileSync } from 'node:fs';
import { basename } from 'node:path';

const files = [];
const failedSteps = [];
const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; i++) {
  if (argv[i] === '--failed-step') failedSteps.push(argv[++i] ?? 'unnamed step');
  else files.push(argv[i]);
}
if (files.length === 0) files.push('.test-output/vitest.json');

let passed = 0;
let failed = 0;
let skipped = 0;
for (const file of files) {
  if (!existsSync(file)) {
    failed += 1;
    process.stderr.write(`no test report at ${file}: the build or the test runner failed before reporting\n`);
    continue;
  }
  const report = JSON.parse(readFileSync(file, 'utf8'));
  const legPassed = report.numPassedTests ?? 0;
  // A file that failed without a failing test (it did not load, a hook threw) counts once; a failed test is not counted
  // again through the describe blocks around it.
  const brokenFiles = (report.testResults ?? []).filter(
    (f) => f.status === 'failed' && !(f.assertionResults ?? []).some((a) => a.status === 'failed'),
  );
  let legFailed = (report.numFailedTests ?? 0) + brokenFiles.length;
  // A leg that ran nothing proves nothing (a filter gone wrong, a runner that stopped at once): one failure.
  if ((report.numTotalTests ?? 0) === 0) {
    legFailed += 1;
    process.stderr.write(`${basename(file)}: ran no test\n`);
  }
  process.stderr.write(`${basename(file)}: ${legPassed} passed, ${legFailed} failed\n`);
  // Name what failed, so a CI log that keeps only its tail still says which test to look at.
  for (const f of report.testResults ?? []) {
    for (const a of f.assertionResults ?? []) {
      if (a.status !== 'failed') continue;
      process.stderr.write(`  failed: ${basename(f.name ?? '')} > ${a.fullName ?? a.title}\n`);
      // The first lines of its message: what was expected and what came (the rest is in the report).
      const msg = String((a.failureMessages ?? [])[0] ?? '')
        .split('\n')
        .slice(0, 6)
        .join('\n    ');
      if (msg) process.stderr.write(`    ${msg.slice(0, 1200)}\n`);
    }
  }
  for (const f of brokenFiles) process.stderr.write(`  failed to run: ${basename(f.name ?? '')}\n`);
  passed += legPassed;
  failed += legFailed;
  skipped += (report.numPendingTests ?? 0) + (report.numTodoTests ?? 0);
}
for (const step of failedSteps) process.stderr.write(`failed step: ${step}\n`);
failed += failedSteps.length;
process.stdout.write(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}\n`);
process.exit(failed > 0 || passed === 0 ? 1 : 0);
