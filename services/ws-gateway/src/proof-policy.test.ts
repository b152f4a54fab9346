import { SoftwareBand } from '@tapgate/band';
import { AgentClient } from '@tapgate/endpoint-node';
import { waitFor } from '@tapgate/testing';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { neaClient, RawClient } from './testing/clients';
import { GatewayTestStack, endpointUrl, neaUrl, serveUserStatuses } from './testing/stack';

describe('challenge expiry and the plain NFC UID policy switch', () => {
  let stack: GatewayTestStack;
  before(async () => {
    stack = await GatewayTestStack.start();
    serveUserStatuses(stack.admin, { alice: 'active', badge: 'active' });
    await stack.addTerminal('T-PP');
  });
  after(async () => {
    await stack.stop();
  });

  it('refuses a proof over a challenge older than its validity window as challenge_expired', async () => {
    const alice = await stack.enroll('alice');
    alice.clasp();
    alice.authenticate();
    const gw = await stack.gateway({ TAPGATE_GATEWAY_CHALLENGE_TTL_MS: '1000' });
    await waitFor(async () => (await fetch(`http://127.0.0.1:${gw.ports.http}/readyz`)).ok);
    const nea = await neaClient(neaUrl(gw), 'T-PP');
    const raw = await RawClient.open(endpointUrl(gw));
    raw.send(
      'hello',
      { role: 'endpoint', terminalId: 'T-PP', credential: stack.terminals.get('T-PP')!.credential },
      'h',
    );
    const welcome = await raw.next('welcome');
    const challenge = welcome.data.challenge!.challenge;
    await new Promise((r) => setTimeout(r, 1200));
    const proof = alice.answerTap({ challenge, terminalId: 'T-PP' });
    raw.send(
      'tap',
      { tapId: 'late', kind: 'nfc', bandId: alice.bandId, proof, at: new Date().toISOString() },
      't',
    );
    const result = await raw.next('tap.result');
    assert.equal(result.data.decision.reason, 'challenge_expired');
    assert.equal((await nea.next('tap')).data.decision.outcome, 'refused');
    raw.close();
    nea.close();
  });

  it('refuses plain UID taps by default, and grants an enrolled badge only where policy allows it', async () => {
    // A badge is enrolled under the band id "uid-<hex>"; its key is never used for UID taps.
    await stack.enroll('badge', { band: SoftwareBand.generate('uid-04a1b2c3d4') });
    for (const [env, expected] of [
      [{}, 'uid_not_allowed'],
      [{ TAPGATE_GATEWAY_ALLOW_UID_TAPS: 'true' }, 'granted'],
    ] as const) {
      const gw = await stack.gateway(env);
      await waitFor(async () => (await fetch(`http://127.0.0.1:${gw.ports.http}/readyz`)).ok);
      const nea = await neaClient(neaUrl(gw), 'T-PP');
      const ep = new AgentClient({
        url: endpointUrl(gw),
        terminalId: 'T-PP',
        credential: stack.terminals.get('T-PP')!.credential,
      });
      ep.start();
      await waitFor(() => ep.connected);
      const r = await ep.tap({ kind: 'nfc', uid: '04A1B2C3D4' });
      assert.equal(r.decision.reason ?? r.decision.outcome, expected);
      if (expected === 'granted') {
        assert.equal(r.decision.identifiedBy, 'uid', 'a UID-based decision says so');
        assert.equal(r.decision.user?.sAMAccountName, 'badge');
      }
      const unknown = await ep.tap({ kind: 'nfc', uid: 'DEADBEEF' });
      assert.equal(unknown.decision.outcome, 'refused');
      await ep.stop();
      nea.close();
    }
  });
});
