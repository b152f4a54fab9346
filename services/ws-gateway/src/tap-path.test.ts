import { signProof } from '@tapgate/band';
import { TapDecided, type TapOutcome } from '@tapgate/contracts';
import { waitFor } from '@tapgate/testing';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { AgentClient } from '@tapgate/endpoint-node';
import type { RunningGateway } from './bootstrap';
import { neaClient, RawClient } from './testing/clients';
import { GatewayTestStack, endpointUrl, neaUrl, serveUserStatuses } from './testing/stack';

function endpoint(gw: RunningGateway, terminalId: string, credential: string): AgentClient {
  const c = new AgentClient({ url: endpointUrl(gw), terminalId, credential });
  c.start();
  return c;
}

async function connected(c: AgentClient): Promise<void> {
  await waitFor(() => c.connected, { what: 'endpoint connected' });
}

describe('tap path across two gateway replicas (real nats-server)', () => {
  let stack: GatewayTestStack;
  let gwA: RunningGateway;
  let gwB: RunningGateway;
  const clients: AgentClient[] = [];
  before(async () => {
    stack = await GatewayTestStack.start();
    serveUserStatuses(stack.admin, {
      alice: 'active',
      bob: 'disabled',
      carol: 'unavailable',
      dora: 'identity_changed',
    });
    await stack.addTerminal('T-01');
    await stack.addTerminal('T-02');
    [gwA, gwB] = await Promise.all([stack.gateway(), stack.gateway()]);
    await waitFor(async () => (await fetch(`http://127.0.0.1:${gwA.ports.http}/readyz`)).ok, {
      what: 'gateway A ready',
    });
    await waitFor(async () => (await fetch(`http://127.0.0.1:${gwB.ports.http}/readyz`)).ok, {
      what: 'gateway B ready',
    });
  });
  after(async () => {
    for (const c of clients) await c.stop();
    await stack.stop();
  });

  it('delivers a granted tap from an endpoint on A to an NEA client bound to the terminal on B', async () => {
    const alice = await stack.enroll('alice');
    alice.clasp();
    alice.authenticate();
    const ep = endpoint(gwA, 'T-01', stack.terminals.get('T-01')!.credential);
    clients.push(ep);
    await connected(ep);
    const nea = await neaClient(neaUrl(gwB), 'T-01');
    const announced: TapOutcome[] = [];
    const stopWatching = stack.admin.subscribe(TapDecided, (o) => {
      announced.push(o);
    });
    await stack.admin.flush();
    const result = await ep.tap({
      kind: 'nfc',
      bandId: alice.bandId,
      sign: (challenge, terminalId) => alice.answerTap({ challenge, terminalId }),
    });
    assert.equal(result.decision.outcome, 'granted', JSON.stringify(result.decision));
    assert.equal(result.deliveredTo, 1);
    const tap = await nea.next('tap');
    assert.equal(tap.data.decision.outcome, 'granted');
    assert.equal(tap.data.decision.user?.sAMAccountName, 'alice');
    assert.equal(tap.data.decision.status, 'active');
    assert.equal(tap.data.decision.identifiedBy, 'proof');
    assert.equal(tap.data.terminalId, 'T-01');
    assert.equal(tap.data.bandId, alice.bandId);
    await waitFor(() =>
      announced.some((o) => o.tapId === tap.data.tapId && o.decision.outcome === 'granted'),
    );
    stopWatching();
    nea.close();
  });

  it('answers the endpoint with no_listener when no NEA client is bound, and never drops it silently', async () => {
    const alice = await stack.enroll('alice');
    alice.clasp();
    alice.authenticate();
    const ep = endpoint(gwB, 'T-02', stack.terminals.get('T-02')!.credential);
    clients.push(ep);
    await connected(ep);
    const result = await ep.tap({
      kind: 'nfc',
      bandId: alice.bandId,
      sign: (c, t) => alice.answerTap({ challenge: c, terminalId: t }),
    });
    assert.equal(result.decision.outcome, 'refused');
    assert.equal(result.decision.reason, 'no_listener');
    assert.equal(result.deliveredTo, 0);
  });

  it('refuses users whose directory status is not active, with the status, and never grants "unavailable"', async () => {
    const ep = clients[0];
    const nea = await neaClient(neaUrl(gwA, 'agent'), 'T-01');
    for (const [user, status, reason] of [
      ['bob', 'disabled', 'user_not_active'],
      ['carol', 'unavailable', 'status_unavailable'],
      ['mallory', 'not_found', 'user_not_active'],
      // The enrolled name now belongs to another directory object: its own reason, nothing of the other.
      ['dora', 'identity_changed', 'identity_changed'],
    ] as const) {
      const band = await stack.enroll(user);
      band.clasp();
      band.authenticate();
      const result = await ep.tap({
        kind: 'nfc',
        bandId: band.bandId,
        sign: (c, t) => band.answerTap({ challenge: c, terminalId: t }),
      });
      assert.equal(result.decision.outcome, 'refused', user);
      assert.equal(result.decision.reason, reason, user);
      assert.equal(result.decision.status, status, user);
      if (status === 'identity_changed') {
        assert.notEqual(
          result.decision.user?.displayName,
          `User ${user}`,
          "nothing of the name's new holder",
        );
      }
      const seen = await nea.next('tap', (m) => m.data.bandId === band.bandId);
      assert.equal(seen.data.decision.outcome, 'refused');
      assert.equal(seen.data.decision.reason, reason);
    }
    nea.close();
  });

  it('refuses every bad proof with its own reason, and a refused tap never reaches an NEA as a success', async () => {
    const ep = clients[0];
    const nea = await neaClient(neaUrl(gwB), 'T-01');
    const alice = await stack.enroll('alice');
    alice.clasp();
    alice.authenticate();
    const stranger = (await import('@tapgate/band')).SoftwareBand.generate();
    stranger.clasp();
    stranger.authenticate();
    const cases: Array<[string, Parameters<AgentClient['tap']>[0]]> = [
      [
        'unknown_band',
        {
          kind: 'nfc',
          bandId: stranger.bandId,
          sign: (c, t) => stranger.answerTap({ challenge: c, terminalId: t }),
        },
      ],
      [
        'bad_signature',
        {
          kind: 'nfc',
          bandId: alice.bandId,
          sign: (c, t) => ({
            ...alice.answerTap({ challenge: c, terminalId: t })!,
            signature: stranger.answerTap({ challenge: c, terminalId: t })!.signature,
          }),
        },
      ],
      [
        'wrong_terminal',
        {
          kind: 'nfc',
          bandId: alice.bandId,
          sign: (c) => alice.answerTap({ challenge: c, terminalId: 'T-99' }),
        },
      ],
      [
        'challenge_unknown',
        {
          kind: 'nfc',
          bandId: alice.bandId,
          sign: (_c, t) =>
            alice.answerTap({ challenge: 'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA', terminalId: t }),
        },
      ],
      ['bad_signature', { kind: 'nfc', bandId: alice.bandId }],
    ];
    for (const [reason, req] of cases) {
      const result = await ep.tap(req);
      assert.equal(result.decision.outcome, 'refused', reason);
      assert.equal(result.decision.reason, reason);
    }
    const suspended = await stack.enroll('alice', { active: false });
    suspended.clasp();
    suspended.authenticate();
    await waitFor(async () => {
      const r = await ep.tap({
        kind: 'nfc',
        bandId: suspended.bandId,
        sign: (c, t) => suspended.answerTap({ challenge: c, terminalId: t }),
      });
      return r.decision.reason === 'band_suspended';
    });
    assert.ok(!nea.frames.some((f) => f.type === 'tap' && f.data.decision.outcome === 'granted'));
    nea.close();
  });

  it('refuses a replayed tap: the captured proof cannot be used again', async () => {
    const alice = await stack.enroll('alice');
    alice.clasp();
    alice.authenticate();
    const nea = await neaClient(neaUrl(gwA), 'T-01');
    let captured: ReturnType<typeof signProof> | undefined;
    const ep = clients[0];
    const first = await ep.tap({
      kind: 'nfc',
      bandId: alice.bandId,
      sign: (c, t) => (captured = alice.answerTap({ challenge: c, terminalId: t })),
    });
    assert.equal(first.decision.outcome, 'granted');
    const replay = await ep.tap({ kind: 'nfc', bandId: alice.bandId, sign: () => captured });
    assert.equal(replay.decision.reason, 'challenge_replayed');
    // The same captured proof from another (rogue but credentialed) connection names an unknown challenge.
    // The legitimate endpoint is held back meanwhile: the newest socket of a terminal wins, so its
    // reconnect would otherwise replace the rogue socket (4009) before the answer arrives.
    await ep.stop();
    const raw = await RawClient.open(endpointUrl(gwB));
    raw.send(
      'hello',
      { role: 'endpoint', terminalId: 'T-01', credential: stack.terminals.get('T-01')!.credential },
      'h',
    );
    await raw.next('welcome');
    raw.send(
      'tap',
      { tapId: 'replay-2', kind: 'nfc', bandId: alice.bandId, proof: captured, at: new Date().toISOString() },
      'r',
    );
    const res = await raw.next('tap.result');
    assert.equal(res.data.decision.reason, 'challenge_unknown');
    raw.close();
    ep.start();
    await connected(ep);
    nea.close();
  });

  it('keeps a rogue socket without endpoint credentials from tapping', async () => {
    for (const credential of [undefined, 'wrong-credential']) {
      const rogue = await RawClient.open(endpointUrl(gwA));
      rogue.send('hello', { role: 'endpoint', terminalId: 'T-01', credential }, 'h');
      const err = await rogue.next('error');
      assert.equal(err.data.code, 'unauthorized');
      const closed = await rogue.waitClosed();
      assert.equal(closed.code, 4001);
    }
    const silent = await RawClient.open(endpointUrl(gwA));
    silent.send('tap', { tapId: 'x', kind: 'nfc', bandId: 'b1', at: new Date().toISOString() });
    const err = await silent.next('error');
    assert.equal(err.data.code, 'handshake_required');
    silent.close();
  });

  it('refuses browser pages from origins that are not allowed, when an allow-list is configured', async () => {
    const gwO = await stack.gateway({ TAPGATE_GATEWAY_ALLOWED_ORIGINS: 'https://mes.example.com' });
    await assert.rejects(RawClient.open(neaUrl(gwO), { origin: 'https://evil.example.net' }), /403/);
    const ok = await neaClient(neaUrl(gwO), 'T-01', { origin: 'https://mes.example.com' });
    ok.close();
    // Endpoints are not browsers: no Origin header, not affected.
    const raw = await RawClient.open(endpointUrl(gwO));
    raw.close();
  });

  it('binds an NEA client implicitly by source address, believing X-Forwarded-For only from trusted proxies', async () => {
    const gwP = await stack.gateway({ TAPGATE_GATEWAY_TRUSTED_PROXIES: '127.0.0.1/32' });
    await stack.addTerminal('T-IMPL');
    await waitFor(async () => (await fetch(`http://127.0.0.1:${gwP.ports.http}/readyz`)).ok);
    const alice = await stack.enroll('alice');
    alice.clasp();
    alice.authenticate();
    // The NEA page's browser sits behind the proxy at 10.20.30.40; the endpoint connects directly.
    const neaBehindProxy = await neaClient(neaUrl(gwP), undefined, {
      headers: { 'x-forwarded-for': '10.20.30.40' },
    });
    const welcome = await neaBehindProxy.next('welcome');
    assert.deepEqual(welcome.data.binding, { mode: 'implicit', address: '10.20.30.40' });
    const neaLocal = await neaClient(neaUrl(gwB)); // implicit, 127.0.0.1 (gwB trusts no proxy)
    const ep = endpoint(gwA, 'T-IMPL', stack.terminals.get('T-IMPL')!.credential);
    clients.push(ep);
    await connected(ep);
    const result = await ep.tap({
      kind: 'nfc',
      bandId: alice.bandId,
      sign: (c, t) => alice.answerTap({ challenge: c, terminalId: t }),
    });
    assert.equal(result.decision.outcome, 'granted');
    const tap = await neaLocal.next('tap');
    assert.equal(tap.data.terminalId, 'T-IMPL');
    assert.equal(neaBehindProxy.frames.filter((f) => f.type === 'tap').length, 0);
    // A forged X-Forwarded-For to an untrusting gateway is ignored: the binding stays 127.0.0.1.
    const forged = await neaClient(neaUrl(gwB), undefined, { headers: { 'x-forwarded-for': '10.20.30.40' } });
    assert.deepEqual((await forged.next('welcome')).data.binding, { mode: 'implicit', address: '127.0.0.1' });
    for (const c of [neaBehindProxy, neaLocal, forged]) c.close();
  });
});
