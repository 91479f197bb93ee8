// Prints the closing line CI reads ("N passed, N failed") from one or more vitest JSON reports (one per Node version),
// counting each failed non-test step (`--failed-step NAME`, e.g. lint or the test typecheck) as one failure.
import { existsSync, readFileSync } from 'node:fs';

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
  passed += report.numPassedTests ?? 0;
  // A file that failed without a failing test (it did not load, a hook threw) counts once; a failed test is not counted
  // again through the describe blocks around it.
  const brokenFiles = (report.testResults ?? []).filter(
    (f) => f.status === 'failed' && !(f.assertionResults ?? []).some((a) => a.status === 'failed'),
  );
  failed += (report.numFailedTests ?? 0) + brokenFiles.length;
  skipped += (report.numPendingTests ?? 0) + (report.numTodoTests ?? 0);
}
for (const step of failedSteps) process.stderr.write(`failed step: ${step}\n`);
failed += failedSteps.length;
process.stdout.write(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}\n`);
process.exit(failed > 0 || passed === 0 ? 1 : 0);
