// The unit ring of Ceremonies: pure logic over in-memory stand-ins for the signer, the audit trail, the
// tap claims and the open-ceremony ledger (the NATS-backed versions are exercised by ceremony-*.test.ts).
import type { TapDecision, TapDelivery } from '@tapgate/contracts';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, it } from 'node:test';
import type { Connection } from '../socket/connection';
import { Ceremonies, type AuditEntry } from './ceremonies';

interface Sent {
  type: string;
  data: Record<string, unknown>;
}

function fakeConn(): { conn: Connection; sent: Sent[] } {
  const sent: Sent[] = [];
  const conn = {
    binding: { mode: 'explicit', terminalId: 'T1' },
    terminalId: 'T1',
    send: (type: string, data: Record<string, unknown>) => sent.push({ type, data }),
  } as unknown as Connection;
  return { conn, sent };
}

function setup(opts: { appendFails?: () => boolean; appendDelayMs?: number; claimsFail?: boolean } = {}) {
  const appended: AuditEntry[] = [];
  const queued: AuditEntry[] = [];
  const issued: Array<Record<string, unknown>> = [];
  const claimed = new Set<string>();
  let jti = 0;
  const ceremonies = new Ceremonies(
    'gw-test',
    {
      issue: async (claims) => {
        issued.push({ nonce: claims.nonce, ...claims.tapgate });
        return { jws: `jws-${++jti}`, jti: `jti-${jti}` };
      },
    },
    {
      append: async (e) => {
        if (opts.appendDelayMs) await new Promise((r) => setTimeout(r, opts.appendDelayMs));
        if (opts.appendFails?.()) throw new Error('NATS is away');
        appended.push(e);
      },
      enqueue: (e) => queued.push(e),
    },
    {
      claim: async (kind, tap) => {
        if (opts.claimsFail) throw new Error('NATS is away');
        const key = `${kind}/${tap.terminalId}/${tap.tapId}`;
        if (claimed.has(key)) return false;
        claimed.add(key);
        return true;
      },
    },
    { opened: () => undefined, closing: async () => true },
    { esignTimeoutMs: () => 60_000, secondSignerMustDiffer: () => true, maxDecisionAgeMs: 2000 },
  );
  return { ceremonies, appended, queued, issued };
}

const granted = (user: string): TapDecision => ({
  outcome: 'granted',
  user: { sAMAccountName: user },
  status: 'active',
  identifiedBy: 'proof',
});
const tap = (user: string, ageMs = 0): TapDelivery => ({
  v: 1,
  tapId: randomUUID(),
  terminalId: 'T1',
  kind: 'nfc',
  decision: granted(user),
  receivedAt: new Date(Date.now() - ageMs).toISOString(),
});

describe('Ceremonies (unit)', () => {
  it('two taps at once by one person: signer 1, then same_signer; by two people: signers 1 and 2', async () => {
    const { ceremonies, issued } = setup({ appendDelayMs: 5 });
    const { conn, sent } = fakeConn();
    ceremonies.open(conn, 'app');
    ceremonies.openCeremony(conn, { reason: 'r', secondSignerRequired: true, nonce: 'n1', recordHash: 'h1' });
    await Promise.all([ceremonies.onTap(conn, tap('alice')), ceremonies.onTap(conn, tap('alice'))]);
    const sigs = sent.filter((s) => s.type === 'esign.signature').map((s) => s.data);
    assert.deepEqual(
      sigs.map((s) => [s.signer, s.outcome, (s.decision as TapDecision).reason]),
      [
        [1, 'granted', undefined],
        [2, 'refused', 'same_signer'],
      ],
    );
    await Promise.all([ceremonies.onTap(conn, tap('erin')), ceremonies.onTap(conn, tap('bob'))]);
    const after = sent
      .filter((s) => s.type === 'esign.signature')
      .map((s) => [s.data.signer, s.data.outcome]);
    assert.deepEqual(after.slice(2), [[2, 'granted']], 'the ceremony completed with erin; bob came too late');
    assert.equal(sent.filter((s) => s.type === 'esign.closed')[0].data.state, 'completed');
    assert.deepEqual(
      issued.map((c) => [c.signer, c.nonce, c.recordHash, c.secondSignerRequired, c.firstSignature]),
      [
        [1, 'n1', 'h1', true, undefined],
        [2, 'n1', 'h1', true, 'jti-1'],
      ],
    );
  });

  it('a failed append withholds the grant, frees the slot, queues a voided record and tells the endpoint', async () => {
    let fail = true;
    const { ceremonies, queued, appended } = setup({ appendFails: () => fail });
    const { conn, sent } = fakeConn();
    ceremonies.open(conn, 'app');
    ceremonies.openCeremony(conn, { reason: 'r', secondSignerRequired: true, recordHash: 'h' });
    const t = tap('alice');
    const handled = await ceremonies.onTap(conn, t);
    assert.equal(handled.refusal?.reason, 'internal_error');
    const first = sent.find((s) => s.type === 'esign.signature')!.data;
    assert.equal(first.outcome, 'refused');
    assert.equal(first.assertion, undefined);
    assert.deepEqual(
      queued.map((e) => [e.outcome, e.tapId, e.kind, e.recordHash]),
      [['voided', t.tapId, 'esign', 'h']],
    );
    fail = false;
    await ceremonies.onTap(conn, tap('alice'));
    const second = sent.filter((s) => s.type === 'esign.signature')[1].data;
    assert.deepEqual([second.signer, second.outcome], [1, 'granted'], 'the slot was released');
    assert.equal(appended[0].secondSignerRequired, true);
  });

  it('a decision older than the bound is not granted (voided, decision_too_old)', async () => {
    const { ceremonies, queued } = setup();
    const { conn, sent } = fakeConn();
    ceremonies.open(conn, 'app');
    ceremonies.startLogin(conn, { nonce: 'n' });
    const handled = await ceremonies.onTap(conn, tap('alice', 2500));
    assert.equal(handled.refusal?.reason, 'decision_too_old');
    assert.equal(sent.find((s) => s.type === 'login.result')!.data.outcome, 'refused');
    assert.equal(queued[0].outcome, 'voided');
  });

  it('an append slower than the remaining age is abandoned: refused, voided', async () => {
    const { ceremonies, queued } = setup({ appendDelayMs: 400 });
    const { conn, sent } = fakeConn();
    ceremonies.open(conn, 'app');
    ceremonies.startLogin(conn, {});
    await ceremonies.onTap(conn, tap('alice', 1800));
    assert.equal(sent.find((s) => s.type === 'login.result')!.data.outcome, 'refused');
    assert.equal(queued[0].outcome, 'voided');
  });

  it('a tap that cannot be claimed is refused and recorded; a closed socket abandons its ceremony', async () => {
    const { ceremonies, queued } = setup({ claimsFail: true });
    const { conn, sent } = fakeConn();
    ceremonies.open(conn, 'app');
    ceremonies.startLogin(conn, {});
    const handled = await ceremonies.onTap(conn, tap('alice'));
    assert.equal(handled.refusal?.reason, 'internal_error');
    assert.equal(sent.find((s) => s.type === 'login.result')!.data.outcome, 'refused');
    assert.equal(queued[0].outcome, 'refused');
    const { ceremonyId } = ceremonies.openCeremony(conn, { reason: 'r', secondSignerRequired: false })!;
    ceremonies.close(conn);
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(
      queued.filter((e) => e.ceremonyId === ceremonyId).map((e) => e.outcome),
      ['abandoned'],
    );
  });
});
