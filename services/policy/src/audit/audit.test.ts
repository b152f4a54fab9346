import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  AuditTrail,
  appendSampleRecords,
  sampleDecision,
  type AuditInput,
  type DecisionPage,
  type DecisionSummary,
  type ScanHealth,
} from '@tapgate/audit';
import { AUDIT_SUBJECT } from '@tapgate/contracts';
import { connectMessaging, type Messaging } from '@tapgate/messaging';
import { startNats, type TestServer } from '@tapgate/testing';
import { startPolicy, type PolicyHarness } from '../testing/policy-harness';

const N = 300;
const OUTCOMES = ['granted', 'refused'] as const;

/** Record i: tap, login, e-signature by turns; two terminals; every 4th refused; the last an unknown band. */
function record(i: number): AuditInput {
  const kind = (['tap', 'login', 'esign'] as const)[i % 3];
  const r = sampleDecision({
    kind,
    tapId: `api-${i}`,
    terminalId: i % 2 ? 'LINE2-T01' : 'LINE1-T04',
    bandId: `band-${String(i).padStart(17, '0')}`,
    outcome: OUTCOMES[i % 4 === 0 ? 1 : 0],
    ...(i % 4 === 0 ? { reason: i % 8 === 0 ? 'user_not_active' : 'no_listener' } : {}),
  });
  if (i !== N - 1) return r;
  const { user: _u, decision: _d, ...rest } = r;
  return {
    ...rest,
    kind: 'tap',
    bandId: 'unknown-band-000000000',
    outcome: 'refused',
    reason: 'unknown_band',
  };
}
const records = Array.from({ length: N }, (_, i) => record(i));

type Page = DecisionPage & ScanHealth;

/** The decision-trail routes the console's Audit page and Dashboard read, against a real NATS trail. */
describe('audit API: decisions page by page, newest first, filtered on the server; summary', () => {
  let nats: TestServer;
  let messaging: Messaging;
  let trail: AuditTrail;
  let policy: PolicyHarness;
  const from = new Date(Date.now() - 3_600_000).toISOString();
  const to = () => new Date(Date.now() + 60_000).toISOString();
  const page = async (query: string): Promise<Page> => {
    const res = await policy.api('GET', `/v1/audit/decisions?from=${from}&to=${to()}&${query}`);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    return res.body as unknown as Page;
  };
  const expected = (f: (r: AuditInput, i: number) => boolean) =>
    records.flatMap((r, i) => (f(r, i) ? [i + 1] : [])).reverse();

  before(async () => {
    nats = await startNats();
    messaging = connectMessaging({ servers: [nats.url], name: 'audit-api-test' });
    trail = new AuditTrail(messaging);
    await trail.ensureStream();
    await appendSampleRecords(messaging, trail, N, (i) => records[i]);
    policy = await startPolicy(nats.url);
  });

  after(async () => {
    await policy?.close();
    await trail?.close();
    await messaging?.close();
    await nats?.dispose();
  });

  it('pages newest first with a total; pages neither overlap nor leave gaps', async () => {
    const all = expected(() => true);
    const seen: number[] = [];
    for (let offset = 0; offset < N; offset += 70) {
      const p = await page(`limit=70&offset=${offset}`);
      assert.equal(p.total, N);
      assert.equal(p.unreadable + p.missing, 0);
      seen.push(...p.items.map((x) => x.seq));
    }
    assert.deepEqual(seen, all);
    assert.deepEqual((await page(`limit=10&offset=${N}`)).items, []);
  });

  it('filters by kind, outcome, terminal, and user (name or band id)', async () => {
    const taps = await page('kind=tap&limit=500');
    assert.deepEqual(
      taps.items.map((x) => x.seq),
      expected((r) => r.kind === 'tap'),
    );
    const refusedLine2 = await page('outcome=refused&terminal=line2-t01&limit=500');
    assert.deepEqual(
      refusedLine2.items.map((x) => x.seq),
      expected((r) => r.outcome === 'refused' && r.terminalId === 'LINE2-T01'),
    );
    // An unknown band is found by its id; it names no user.
    const unknown = await page('user=UNKNOWN-band');
    assert.equal(unknown.total, 1);
    assert.equal(unknown.items[0].record.bandId, 'unknown-band-000000000');
    assert.equal(unknown.items[0].record.user, undefined);
    // A display name matches too (every sample but the last is Alice Able's).
    assert.equal((await page('user=alice%20able&limit=1')).total, N - 1);
    assert.equal((await page('user=band-00000000000000042')).items[0].seq, 43);
  });

  it('refuses a query it cannot serve with 400 and every problem by field', async () => {
    const missing = await policy.api('GET', '/v1/audit/decisions');
    assert.equal(missing.status, 400);
    assert.equal(missing.body.error.code, 'invalid_request');
    const fields = (missing.body.error as { errors?: Array<{ path: string }> }).errors?.map((e) => e.path);
    assert.deepEqual(fields?.sort(), ['from', 'to']);
    for (const bad of ['limit=501', 'offset=-1', 'kind=logout', 'outcome=maybe', 'color=red']) {
      const res = await policy.api('GET', `/v1/audit/decisions?from=${from}&to=${to()}&${bad}`);
      assert.equal(res.status, 400, bad);
      assert.equal(res.body.error.code, 'invalid_request', bad);
    }
    const backwards = await policy.api('GET', `/v1/audit/decisions?from=${to()}&to=${from}`);
    assert.equal(backwards.status, 400);
    assert.equal(backwards.body.error.field, 'to');
    assert.equal((await policy.api('GET', '/v1/audit/summary?minutes=0')).status, 400);
    assert.equal((await policy.api('GET', '/v1/audit/summary?minutes=1441')).status, 400);
    // Without a token: nothing about the trail.
    assert.equal(
      (await policy.api('GET', `/v1/audit/decisions?from=${from}&to=${to()}`, { token: null })).status,
      401,
    );
    assert.equal((await policy.api('GET', '/v1/audit/summary', { token: null })).status, 401);
  });

  it('summarises the last hour: taps per minute, refused taps by reason, logins and e-signatures by outcome', async () => {
    const res = await policy.api('GET', '/v1/audit/summary?minutes=60');
    assert.equal(res.status, 200);
    const s = res.body as unknown as DecisionSummary & ScanHealth;
    const taps = records.filter((r) => r.kind === 'tap');
    assert.equal(s.taps, taps.length);
    assert.equal(
      s.perMinute.reduce((n, m) => n + m.taps, 0),
      taps.length,
    );
    assert.ok(s.perMinute.length >= 60 && s.perMinute.length <= 61, `${s.perMinute.length} minutes`);
    const byReason = new Map<string, number>();
    for (const r of taps.filter((x) => x.outcome === 'refused')) {
      byReason.set(r.reason!, (byReason.get(r.reason!) ?? 0) + 1);
    }
    assert.deepEqual(
      s.refusals,
      [...byReason]
        .map(([reason, count]) => ({ reason, count }))
        .sort((a, b) => b.count - a.count || a.reason.localeCompare(b.reason)),
    );
    const logins = records.filter((r) => r.kind === 'login');
    assert.equal(s.logins.granted, logins.filter((r) => r.outcome === 'granted').length);
    assert.equal(s.logins.refused, logins.filter((r) => r.outcome === 'refused').length);
  });

  it('says the view is incomplete when a record in the range cannot be read', async () => {
    await (await messaging.connection()).jetstream().publish(AUDIT_SUBJECT, 'not json');
    const p = await page('limit=1');
    assert.equal(p.unreadable, 1);
    assert.equal(p.total, N);
  });

  it('pages administrator changes newest first and says whether more follow', async () => {
    for (const id of ['T-A', 'T-B', 'T-C']) {
      assert.equal((await policy.api('POST', '/v1/terminals', { body: { terminalId: id } })).status, 201);
    }
    const first = await policy.api('GET', '/v1/audit/admin?action=terminal.create&limit=2');
    const body = first.body as unknown as { items: Array<{ target: { id: string } }>; more: boolean };
    assert.deepEqual(
      body.items.map((r) => r.target.id),
      ['T-C', 'T-B'],
    );
    assert.equal(body.more, true);
    const second = (await policy.api('GET', '/v1/audit/admin?action=terminal.create&limit=2&offset=2'))
      .body as unknown as typeof body;
    assert.deepEqual(
      second.items.map((r) => r.target.id),
      ['T-A'],
    );
    assert.equal(second.more, false);
  });

  it('lists terminals offline when no gateway runs (no responders), and says which replicas answered', async () => {
    const list = (await policy.api('GET', '/v1/terminals')).body as unknown as {
      items: Array<{ terminalId: string; live: { state: string; applications: unknown[] } }>;
      gateways: { known: boolean; answered: string[] };
    };
    assert.deepEqual(list.gateways, { known: true, answered: [], truncated: false });
    assert.ok(list.items.length >= 3);
    assert.ok(list.items.every((t) => t.live.state === 'offline' && t.live.applications.length === 0));
  });
});
