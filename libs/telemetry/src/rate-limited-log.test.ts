import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { createLogger, rateLimitedLog, resetLogDestination, setLogDestination } from './index';

describe('rateLimitedLog', () => {
  it('logs the first event of a window at once and the count of the rest when it closes', async () => {
    const lines: Array<Record<string, unknown>> = [];
    setLogDestination({ write: (chunk) => lines.push(JSON.parse(chunk) as Record<string, unknown>) });
    try {
      const warn = rateLimitedLog(createLogger('rate-limited-test'), 'decision too old', { intervalMs: 100 });
      for (let i = 1; i <= 50; i++) warn({ tap: `t${i}` });
      assert.equal(lines.length, 1);
      assert.equal(lines[0].msg, 'decision too old');
      assert.equal(lines[0].tap, 't1');
      assert.equal(lines[0].level, 40);
      await sleep(150);
      assert.equal(lines.length, 2);
      assert.equal(lines[1].suppressed, 49);
      assert.equal(lines[1].tap, 't50');
      assert.equal(lines[1].msg, 'decision too old (49 more not logged)');
      // A quiet window ends without a summary; the next event is logged at once again.
      warn({ tap: 't51' });
      await sleep(150);
      assert.equal(lines.length, 3);
      assert.equal(lines[2].tap, 't51');
      assert.equal(lines[2].suppressed, undefined);
    } finally {
      resetLogDestination();
    }
  });
});
