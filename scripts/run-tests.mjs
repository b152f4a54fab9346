// Runs every compiled test file (libs/*/dist, services/*/dist, tests/*/dist and tools/*/dist, *.test.js)
// with Node's test runner, each file in its own `node --test` process with a time limit of its own.
// Tests are I/O-bound (they start their own servers), so several files run at once even on 2 cores.
// Usage: node scripts/run-tests.mjs [filter-substring ...]
//
// Why one process per file, and not one `node --test` for all of them: a file kept alive by something
// left open (a client reconnecting after a failed assertion) would hold that single run until CI's limit,
// and every other file's result with it. Here only that file fails, when its own limit passes, and the
// run goes on. node's --test-force-exit is not the answer: with it node (24.x) ends a file's process
// while suites declared in loops are still being reported, and their tests silently vanish from the
// count (checked: one file gave 58-76 of its 78 tests).
import { spawn } from 'node:child_process';
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

const concurrency = Math.max(1, Number(process.env.TAPGATE_TEST_CONCURRENCY ?? 4));
// The slowest files (Samba, Chromium, failovers) take 2-5 minutes on a loaded 2-core machine.
const fileLimitMs = Number(process.env.TAPGATE_TEST_FILE_TIMEOUT_MS ?? 15 * 60_000);
const runLimitMs = Number(process.env.TAPGATE_TEST_RUN_TIMEOUT_MS ?? 50 * 60_000);
// With one file at a time its output is shown as it comes; otherwise each file's output is shown whole
// when it ends, so that files running side by side do not interleave.
const live = concurrency === 1;
const nodeArgs = ['--test', '--test-timeout=300000', '--test-reporter=spec'];
const duration = (ms) => (ms >= 60_000 ? `${ms / 60_000} min` : `${ms / 1000} s`);
const COUNTS = ['tests', 'suites', 'pass', 'fail', 'cancelled', 'skipped', 'todo'];
const totals = Object.fromEntries(COUNTS.map((k) => [k, 0]));
const failedFiles = [];
// Each failed file's "failing tests" section, shown again at the end of the run.
const failures = [];
const running = new Set();
const queue = [...files];

/** Ends a file's process group (node --test, the test process and what it started without detaching). */
function killGroup(child) {
  for (const [signal, delay] of [
    ['SIGTERM', 0],
    ['SIGKILL', 10_000],
  ]) {
    setTimeout(() => {
      try {
        process.kill(-child.pid, signal);
      } catch {
        // already gone
      }
    }, delay).unref();
  }
}

function runFile(file) {
  return new Promise((resolve) => {
    const started = Date.now();
    const child = spawn(process.execPath, [...nodeArgs, file], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { TAPGATE_LOG_LEVEL: 'error', ...process.env },
      detached: true,
    });
    running.add(child);
    const chunks = [];
    const take = (out) => (d) => {
      chunks.push(d);
      if (live) out.write(d);
    };
    child.stdout.on('data', take(process.stdout));
    child.stderr.on('data', take(process.stderr));
    let killedForTime = false;
    const limit = setTimeout(() => {
      killedForTime = true;
      killGroup(child);
    }, fileLimitMs);
    child.on('close', (code, signal) => {
      clearTimeout(limit);
      running.delete(child);
      const output = Buffer.concat(chunks).toString('utf8');
      const seconds = ((Date.now() - started) / 1000).toFixed(1);
      if (!live) process.stdout.write(`\n── ${file} (${seconds} s)\n${output}`);
      for (const k of COUNTS) {
        const m = new RegExp(`^ℹ ${k} (\\d+)$`, 'm').exec(output);
        if (m) totals[k] += Number(m[1]);
      }
      const why = killedForTime
        ? `did not end within ${duration(fileLimitMs)} (a test that hangs, or a handle left open after its tests); its process was killed`
        : code !== 0
          ? `exited with ${signal ?? `code ${code}`}`
          : undefined;
      const failing = output.indexOf('\n✖ failing tests:');
      if (failing >= 0) failures.push(`── ${file}\n${output.slice(failing + 1).trimEnd()}`);
      if (why) {
        failedFiles.push(`${file}: ${why}`);
        console.error(`run-tests: ${file} ${why}`);
      }
      resolve();
    });
  });
}

const runLimit = setTimeout(() => {
  console.error(`run-tests: the run did not end within ${duration(runLimitMs)}; stopping it`);
  failedFiles.push(`the run as a whole: did not end within ${duration(runLimitMs)}`);
  queue.length = 0;
  for (const child of running) killGroup(child);
}, runLimitMs);
runLimit.unref();
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    for (const child of running) killGroup(child);
    process.exit(1);
  });
}

await Promise.all(
  Array.from({ length: Math.min(concurrency, files.length) }, async () => {
    for (let file = queue.shift(); file; file = queue.shift()) await runFile(file);
  }),
);
clearTimeout(runLimit);

console.log(`\nrun-tests: ${files.length} files, ${COUNTS.map((k) => `${k} ${totals[k]}`).join(', ')}`);
if (failures.length > 0) console.error(`\n${failures.join('\n\n')}\n`);
if (failedFiles.length > 0) {
  console.error(`run-tests: ${failedFiles.length} failed:\n${failedFiles.map((f) => `  ${f}`).join('\n')}`);
  process.exit(1);
}
