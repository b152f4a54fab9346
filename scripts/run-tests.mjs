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
// No --test-force-exit: with it node (24.x) ends a file's process while suites declared in loops are still
// being reported, and their tests silently vanish from the run (checked: one file gave 58-76 of its 78
// tests). A file kept alive by something left open (a client reconnecting after a failed assertion) is
// instead caught by this limit on the whole run, which fails it rather than letting CI hang.
const runLimitMs = Number(process.env.TAPGATE_TEST_RUN_TIMEOUT_MS ?? 50 * 60_000);
const result = spawnSync(
  process.execPath,
  [
    '--test',
    `--test-concurrency=${concurrency}`,
    '--test-timeout=300000',
    '--test-reporter=spec',
    // Only where asked (test:images): a file run against the images has been seen to stay alive after its
    // tests, with nothing of its own open; there, ending it matters more than the count it may cut short.
    ...(process.env.TAPGATE_TEST_FORCE_EXIT === '1' ? ['--test-force-exit'] : []),
    ...files,
  ],
  {
    stdio: 'inherit',
    env: { TAPGATE_LOG_LEVEL: 'error', ...process.env },
    timeout: runLimitMs,
    killSignal: 'SIGTERM',
  },
);
if (result.error?.code === 'ETIMEDOUT') {
  console.error(
    `run-tests: the run did not end within ${runLimitMs / 60_000} min (a test file kept alive by a handle left open?); failed`,
  );
  process.exit(1);
}
process.exit(result.status ?? 1);
