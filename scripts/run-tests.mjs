// Runs every compiled test file (libs/*/dist and services/*/dist, *.test.js) with Node's test runner.
// Tests are I/O-bound (they start their own servers), so several files run at once even on 2 cores.
// Usage: node scripts/run-tests.mjs [filter-substring ...]
import { spawnSync } from 'node:child_process';
import { existsSync, globSync } from 'node:fs';

const filters = process.argv.slice(2);
// A filter naming a compiled test file runs it even outside the globs below (e.g. *.image-test.js, which
// needs the images scripts/images.sh builds and runs only from scripts/test-images.sh).
const named = filters.filter((f) => f.endsWith('.js') && existsSync(f));
const files = [
  ...new Set(
    globSync([
      'libs/*/dist/**/*.test.js',
      'services/*/dist/**/*.test.js',
      'tests/*/dist/**/*.test.js',
      'tools/*/dist/**/*.test.js',
    ])
      .filter((f) => filters.length === 0 || filters.some((s) => f.includes(s)))
      .concat(named),
  ),
].sort();
if (files.length === 0) {
  console.error('run-tests: no test files matched');
  process.exit(1);
}
const concurrency = process.env.TAPGATE_TEST_CONCURRENCY ?? '4';
const result = spawnSync(
  process.execPath,
  [
    '--test',
    `--test-concurrency=${concurrency}`,
    '--test-timeout=300000',
    // A file whose tests have all finished exits even if something it opened is still alive (a client
    // left reconnecting after a failed assertion): the failure is reported, the run never hangs.
    '--test-force-exit',
    '--test-reporter=spec',
    ...files,
  ],
  { stdio: 'inherit', env: { TAPGATE_LOG_LEVEL: 'error', ...process.env } },
);
process.exit(result.status ?? 1);
