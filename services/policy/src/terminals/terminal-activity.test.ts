import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Messaging } from '@tapgate/messaging';
import { LAST_TAPS, TerminalActivity } from './terminal-activity';

/** Pure bookkeeping: a stand-in Messaging hands the handlers the announcements directly. */
function activity(): { view: TerminalActivity; tap: (at: string, tapId: string) => void } {
  const handlers = new Map<string, (msg: unknown) => void>();
  const messaging = {
    subscribe: (c: { subject: string }, h: (msg: unknown) => void) => {
      handlers.set(c.subject, h);
      return () => handlers.delete(c.subject);
    },
  } as unknown as Messaging;
  const view = new TerminalActivity(messaging);
  const decided = [...handlers.entries()].find(([s]) => s.endsWith('tap.decided'))![1];
  const tap = (at: string, tapId: string) =>
    decided({
      v: 1,
      terminalId: 'T-1',
      tapId,
      kind: 'nfc',
      decision: { outcome: 'granted', identifiedBy: 'band', reason: tapId },
      deliveredTo: 1,
      gateway: 'gw',
      at,
    });
  return { view, tap };
}

describe('TerminalActivity', () => {
  it('lists the newest taps first, whatever order the gateways announce them in', () => {
    const { view, tap } = activity();
    const at = (s: number) => new Date(Date.UTC(2026, 0, 1, 0, 0, s)).toISOString();
    tap(at(10), 'a');
    tap(at(30), 'b');
    tap(at(20), 'c'); // late announcement
    tap(at(30), 'd'); // same time as b: after it
    tap(at(5), 'e');
    tap(at(40), 'f');
    tap(at(1), 'g'); // older than all five kept: not listed
    const listed = view.of('T-1')?.lastTaps?.map((t) => t.reason);
    assert.equal(listed?.length, LAST_TAPS);
    assert.deepEqual(listed, ['f', 'b', 'd', 'c', 'a']);
    assert.equal(view.of('T-1')?.lastTap?.reason, 'f');
  });
});
