import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { AuditRecord } from '@tapgate/contracts';
import { chainRecord, GENESIS_HASH } from './chain';
import { DecisionQuery, PageCollector, SummaryCollector } from './query';
import { sampleDecision } from './samples';

const at0 = Date.parse('2026-11-30T10:00:00.000Z');
const rec = (i: number, over: Partial<AuditRecord> = {}): AuditRecord =>
  chainRecord(sampleDecision({ at: new Date(at0 + i * 1000).toISOString(), ...over }), GENESIS_HASH);
const query = (q: Record<string, string>) =>
  DecisionQuery.parse({ from: '2026-11-30T00:00:00Z', to: '2026-12-01T00:00:00Z', ...q });

describe('audit queries (pure): a page cut from a scan, newest first; per-minute summary', () => {
  it('keeps only offset + limit matches and pages newest first, whatever the number scanned', () => {
    for (const [n, offset, limit] of [
      [0, 0, 5],
      [3, 0, 5],
      [10, 0, 3],
      [10, 3, 3],
      [10, 9, 3],
      [10, 10, 3],
      [1000, 37, 50],
    ]) {
      const pages = new PageCollector(query({ offset: String(offset), limit: String(limit) }));
      for (let seq = 1; seq <= n; seq++) pages.add({ seq, record: rec(seq) });
      const p = pages.page();
      const want = Array.from({ length: n }, (_, i) => n - i).slice(offset, offset + limit);
      assert.deepEqual(
        p.items.map((x) => x.seq),
        want,
        `${n} scanned, offset ${offset}, limit ${limit}`,
      );
      assert.equal(p.total, n);
    }
  });

  it('matches kind, outcome, terminal (any case) and user by name, display name or band id', () => {
    const tap = rec(1, { kind: 'tap', bandId: 'band-ABC', terminalId: 'LINE1-T04' });
    const login = rec(2, { kind: 'login', outcome: 'refused', terminalId: 'LINE2-T01' });
    const keep = (q: Record<string, string>) => {
      const c = new PageCollector(query(q));
      for (const [seq, record] of [tap, login].entries()) c.add({ seq: seq + 1, record });
      return c.page().items.map((x) => x.record.kind);
    };
    assert.deepEqual(keep({ kind: 'tap' }), ['tap']);
    assert.deepEqual(keep({ outcome: 'refused' }), ['login']);
    assert.deepEqual(keep({ terminal: 'line1-t04' }), ['tap']);
    assert.deepEqual(keep({ user: 'abc' }), ['tap']);
    assert.deepEqual(keep({ user: 'ALICE able' }), ['login', 'tap']);
    assert.deepEqual(keep({ user: 'bob' }), []);
  });

  it('counts taps per minute of the range and refused taps by reason; logins and signatures apart', () => {
    const s = new SummaryCollector(new Date(at0), new Date(at0 + 3 * 60_000));
    s.add(rec(0, { kind: 'tap' }));
    s.add(rec(61, { kind: 'tap', outcome: 'refused', reason: 'unknown_band' }));
    s.add(rec(62, { kind: 'tap', outcome: 'refused', reason: 'no_listener' }));
    s.add(rec(63, { kind: 'tap', outcome: 'refused', reason: 'no_listener' }));
    s.add(rec(64, { kind: 'login' }));
    s.add(rec(65, { kind: 'esign', outcome: 'completed' }));
    const r = s.summary();
    assert.deepEqual(
      r.perMinute.map((m) => [m.taps, m.refused]),
      [
        [1, 0],
        [3, 3],
        [0, 0],
      ],
    );
    assert.equal(r.taps, 4);
    assert.deepEqual(r.refusals, [
      { reason: 'no_listener', count: 2 },
      { reason: 'unknown_band', count: 1 },
    ]);
    assert.deepEqual(r.logins, { granted: 1 });
    assert.deepEqual(r.esigns, { completed: 1 });
  });
});
