import { generateSigningKeyFile } from '@tapgate/assertions';
import type { SoftwareBand } from '@tapgate/band';
import type { AssertionClaims, ServerMessage } from '@tapgate/contracts';
import { AgentClient } from '@tapgate/endpoint-node';
import { waitFor } from '@tapgate/testing';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { RunningGateway } from './bootstrap';
import { endpointClient, neaClient, takeChallenges, type RawClient } from './testing/clients';
import { GatewayTestStack, endpointUrl, neaUrl, serveUserStatuses } from './testing/stack';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

type Signature = Extract<ServerMessage, { type: 'esign.signature' }>;

const claimsOf = (jws: string) =>
  JSON.parse(Buffer.from(jws.split('.')[1], 'base64url').toString('utf8')) as AssertionClaims;

/** What the races must never produce, summed over every round of every scenario. */
const tally = {
  races: 0,
  onePersonCompletions: 0,
  signerOrderViolations: 0,
  tapsUsedTwice: 0,
  completed: 0,
};

/**
 * Checks the ceremonies of one round from the frames the NEA sockets got: signer numbers of grants are
 * 1 then 2 in order, a completed ceremony has two different people, and no tap signed twice.
 */
function audit(neas: Array<{ nea: RawClient; from: number; ceremonyId: string }>): {
  granted: Signature[];
  refused: Signature[];
  completed: number;
} {
  const granted: Signature[] = [];
  const refused: Signature[] = [];
  let completed = 0;
  const tapsUsed = new Map<string, number>();
  for (const { nea, from, ceremonyId } of neas) {
    const frames = nea.frames.slice(from);
    const sigs = frames.filter(
      (f): f is Signature => f.type === 'esign.signature' && f.data.ceremonyId === ceremonyId,
    );
    const grants = sigs.filter((s) => s.data.outcome === 'granted');
    granted.push(...grants);
    refused.push(...sigs.filter((s) => s.data.outcome === 'refused'));
    if (grants.some((g, i) => g.data.signer !== i + 1)) tally.signerOrderViolations++;
    for (const g of grants) {
      const tapId = claimsOf(g.data.assertion!).tapgate.tapId;
      tapsUsed.set(tapId, (tapsUsed.get(tapId) ?? 0) + 1);
    }
    const closed = frames.find((f) => f.type === 'esign.closed' && f.data.ceremonyId === ceremonyId);
    if (closed?.type === 'esign.closed' && closed.data.state === 'completed') {
      completed++;
      const subs = closed.data.assertions.map((a) => claimsOf(a).sub.toLowerCase());
      if (subs.length !== 2 || subs[0] === subs[1]) tally.onePersonCompletions++;
    }
  }
  for (const n of tapsUsed.values()) if (n > 1) tally.tapsUsedTwice++;
  tally.completed += completed;
  return { granted, refused, completed };
}

describe('e-signatures by two real people under concurrent taps (real NATS, two gateway replicas)', () => {
  let stack: GatewayTestStack;
  let gwA: RunningGateway;
  let gwB: RunningGateway;
  let ep: RawClient;
  let alice: SoftwareBand;
  let erin: SoftwareBand;
  const dir = mkdtempSync(join(tmpdir(), 'tapgate-races-'));

  before(async () => {
    stack = await GatewayTestStack.start();
    serveUserStatuses(stack.admin, { alice: 'active', erin: 'active' });
    alice = await stack.enroll('alice');
    erin = await stack.enroll('erin');
    for (const b of [alice, erin]) {
      b.clasp();
      b.authenticate();
    }
    await stack.addTerminal('T-RACE');
    const key = join(dir, 'signing.pem');
    generateSigningKeyFile(key);
    const env = {
      TAPGATE_ASSERTIONS_SIGNING_KEY_FILES: key,
      TAPGATE_GATEWAY_TAP_TIMEOUT_MS: '5000',
      // One endpoint socket fires every race: no rate limit in the way.
      TAPGATE_GATEWAY_RATE_LIMIT_PER_SECOND: '100000',
      TAPGATE_GATEWAY_RATE_LIMIT_BURST: '100000',
    };
    gwA = await stack.gateway(env);
    gwB = await stack.gateway(env);
    for (const gw of [gwA, gwB]) {
      await waitFor(
        async () =>
          (
            (await (await fetch(`http://127.0.0.1:${gw.ports.http}/readyz`)).json()) as {
              ceremonies: boolean;
            }
          ).ceremonies,
      );
    }
    ep = await endpointClient(endpointUrl(gwA), 'T-RACE', stack.terminals.get('T-RACE')!.credential);
  });
  after(async () => {
    ep.close();
    await stack.stop();
    rmSync(dir, { recursive: true, force: true });
    console.log(
      `ceremony races: ${tally.races} races, ${tally.completed} ceremonies completed, ` +
        `${tally.onePersonCompletions} completed by one person, ${tally.signerOrderViolations} with signer ` +
        `numbers other than 1 then 2, ${tally.tapsUsedTwice} taps that signed twice`,
    );
  });

  /** Sends signed taps of `who` on the raw endpoint with no wait between them; resolves with the results. */
  async function fire(who: SoftwareBand[]) {
    const challenges = await takeChallenges(ep, who.length);
    const refs = who.map((band, i) => {
      const ref = `t-${randomUUID()}`;
      const proof = band.answerTap({ challenge: challenges[i], terminalId: 'T-RACE' })!;
      ep.send(
        'tap',
        { tapId: randomUUID(), kind: 'nfc', bandId: band.bandId, proof, at: new Date().toISOString() },
        ref,
      );
      return ref;
    });
    return Promise.all(refs.map((ref) => ep.next('tap.result', (m) => m.ref === ref)));
  }

  let n = 0;
  async function open(nea: RawClient): Promise<{ nea: RawClient; from: number; ceremonyId: string }> {
    const ref = `E${++n}`;
    const from = nea.frames.length;
    nea.send('esign.open', { reason: 'Release batch', secondSignerRequired: true, audience: 'poms' }, ref);
    const opened = await nea.next('esign.opened', (m) => m.ref === ref, 5000, from);
    return { nea, from, ceremonyId: opened.data.ceremonyId };
  }

  /** Ends a ceremony still open (cancel) and waits for its closing frame. */
  async function finish(c: { nea: RawClient; from: number; ceremonyId: string }): Promise<void> {
    const done = () =>
      c.nea.frames.slice(c.from).some((f) => f.type === 'esign.closed' && f.data.ceremonyId === c.ceremonyId);
    if (!done()) c.nea.send('esign.cancel', { ceremonyId: c.ceremonyId }, `X${++n}`);
    await c.nea.next('esign.closed', (m) => m.data.ceremonyId === c.ceremonyId, 5000, c.from);
  }

  it('the same person tapping twice with no wait signs once: 150 races', async () => {
    const nea = await neaClient(neaUrl(gwB), 'T-RACE');
    for (let i = 0; i < 150; i++) {
      const c = await open(nea);
      await fire([alice, alice]);
      await finish(c);
      const r = audit([c]);
      tally.races++;
      assert.equal(r.granted.length, 1, `round ${i}: one signature`);
      assert.equal(r.refused.length, 1);
      assert.equal(r.refused[0].data.decision.reason, 'same_signer');
      assert.equal(r.completed, 0);
    }
    nea.close();
  });

  it('two people tapping back to back are signers 1 and 2: 100 races', async () => {
    const nea = await neaClient(neaUrl(gwA), 'T-RACE');
    for (let i = 0; i < 100; i++) {
      const c = await open(nea);
      await fire(i % 2 ? [alice, erin] : [erin, alice]);
      await finish(c);
      const r = audit([c]);
      tally.races++;
      assert.deepEqual(
        r.granted.map((s) => s.data.signer),
        [1, 2],
        `round ${i}`,
      );
      assert.equal(r.completed, 1);
    }
    nea.close();
  });

  it('two NEA sockets on two replicas bound to one terminal: each tap signs one ceremony: 100 races', async () => {
    const neaA = await neaClient(neaUrl(gwA), 'T-RACE');
    const neaB = await neaClient(neaUrl(gwB), 'T-RACE');
    for (let i = 0; i < 100; i++) {
      const cs = [await open(neaA), await open(neaB)];
      const results = await fire(i % 3 === 0 ? [alice, alice] : [alice, erin]);
      // The endpoint hears from the first replica to answer; the other may still be signing.
      const grantedTaps = results.filter((x) => x.data.decision.outcome === 'granted').length;
      const grants = () =>
        cs.reduce(
          (k, c) =>
            k +
            c.nea.frames
              .slice(c.from)
              .filter((f) => f.type === 'esign.signature' && f.data.outcome === 'granted').length,
          0,
        );
      await waitFor(() => grants() >= grantedTaps, { timeoutMs: 2000, intervalMs: 5 }).catch(() => undefined);
      for (const c of cs) await finish(c);
      const r = audit(cs);
      tally.races++;
      assert.equal(
        r.granted.length,
        grantedTaps,
        `round ${i}: every granted tap signed exactly one ceremony`,
      );
    }
    neaA.close();
    neaB.close();
  });

  it('one tap logs in one application: two NEA sockets on two replicas with logins pending: 50 races', async () => {
    const neas = [await neaClient(neaUrl(gwA), 'T-RACE'), await neaClient(neaUrl(gwB), 'T-RACE')];
    let twice = 0;
    for (let i = 0; i < 50; i++) {
      const from = neas.map((x) => x.frames.length);
      const pending = await Promise.all(
        neas.map(async (x, k) => {
          x.send('login.request', { audience: 'poms' }, `LR${i}-${k}`);
          return (await x.next('login.pending', (m) => m.ref === `LR${i}-${k}`, 5000, from[k])).data
            .requestId;
        }),
      );
      const [result] = await fire([alice]);
      assert.equal(result.data.decision.outcome, 'granted');
      const granted = () =>
        neas.filter((x, k) =>
          x.frames.slice(from[k]).some((f) => f.type === 'login.result' && f.data.outcome === 'granted'),
        ).length;
      await waitFor(() => granted() >= 1, { timeoutMs: 2000, intervalMs: 5 });
      await sleep(20); // a second grant, if there were one, would be on its way
      if (granted() > 1) twice++;
      tally.races++;
      // The other login is still waiting: cancel it.
      for (const [k, x] of neas.entries()) {
        const done = x.frames
          .slice(from[k])
          .some((f) => f.type === 'login.result' && f.data.requestId === pending[k]);
        if (!done) {
          x.send('login.cancel', undefined, `LC${i}-${k}`);
          await x.next('login.result', (m) => m.data.requestId === pending[k], 5000, from[k]);
        }
      }
    }
    tally.tapsUsedTwice += twice;
    assert.equal(twice, 0);
    for (const x of neas) x.close();
  });

  it("the endpoint node's own client firing two taps at once: they go one after the other: 30 races", async () => {
    const agent = new AgentClient({
      url: endpointUrl(gwB),
      terminalId: 'T-RACE',
      credential: stack.terminals.get('T-RACE')!.credential,
    });
    agent.start();
    await waitFor(() => agent.connected);
    const nea = await neaClient(neaUrl(gwA), 'T-RACE');
    const tapBy = (b: SoftwareBand) =>
      agent.tap({
        kind: 'nfc',
        bandId: b.bandId,
        sign: (ch, t) => b.answerTap({ challenge: ch, terminalId: t }),
      });
    for (let i = 0; i < 30; i++) {
      const c = await open(nea);
      await Promise.all([tapBy(alice), tapBy(alice)]);
      await finish(c);
      const r = audit([c]);
      tally.races++;
      assert.equal(r.granted.length, 1, `round ${i}`);
      assert.equal(r.completed, 0);
    }
    nea.close();
    await agent.stop();
    assert.equal(tally.onePersonCompletions, 0);
    assert.equal(tally.signerOrderViolations, 0);
    assert.equal(tally.tapsUsedTwice, 0);
  });
});
