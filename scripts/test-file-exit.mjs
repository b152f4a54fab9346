// Loaded (--import) into every test file's process by scripts/run-tests.mjs. Once all of a file's tests
// have ended, the process exits 10 s later even if something it opened (a client left reconnecting, a
// handle of a child process) would keep it alive: the run never hangs on one file. node's own
// --test-force-exit is not used because it ends the process before every result is reported (tests of
// suites declared in loops vanished from the count); the grace here leaves time for that.
import { after } from 'node:test';

if (process.env.NODE_TEST_CONTEXT) {
  after(() => {
    setTimeout(() => {
      console.error(
        `test-file-exit: ${process.argv.at(-1)} still had open handles 10 s after its tests; exiting`,
      );
      process.exit();
    }, 10_000).unref();
  });
}
