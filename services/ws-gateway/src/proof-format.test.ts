import { waitFor } from '@tapgate/testing';
import type { TapKind } from '@tapgate/contracts';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { SoftwareBand } from '@tapgate/band';
import { RawClient, neaClient } from './testing/clients';
import { GatewayTestStack, endpointUrl, neaUrl, serveUserStatuses } from './testing/stack';

describe('proof formats at the gateway: format 2 binds the tap kind, format 1 is still verified', () => {
  let stack: GatewayTestStack;
  let raw: RawClient;
  let alice: SoftwareBand;
  let challenge: string;
  let closeNea: () => void;
  before(async () => {
    stack = await GatewayTestStack.start();
    serveUserStatuses(stack.admin, { alice: 'active' });
    alice = await stack.enroll('alice');
    alice.clasp();
    alice.authenticate();
    await stack.addTerminal('T-PF');
    const gw = await stack.gateway();
    await waitFor(async () => (await fetch(`http://127.0.0.1:${gw.ports.http}/readyz`)).ok);
    const nea = await neaClient(neaUrl(gw), 'T-PF');
    closeNea = () => nea.close();
    raw = await RawClient.open(endpointUrl(gw));
    raw.send(
      'hello',
      { role: 'endpoint', terminalId: 'T-PF', credential: stack.terminals.get('T-PF')!.credential },
      'h',
    );
    challenge = (await raw.next('welcome')).data.challenge!.challenge;
  });
  after(async () => {
    raw.close();
    closeNea();
    await stack.stop();
  });

  async function tap(n: number, kind: TapKind, signedFor: TapKind | undefined) {
    const proof = alice.answerTap({ challenge, terminalId: 'T-PF', kind: signedFor });
    raw.send(
      'tap',
      { tapId: `pf-${n}`, kind, bandId: alice.bandId, proof, at: new Date().toISOString() },
      `t${n}`,
    );
    const result = await raw.next('tap.result', (m) => m.ref === `t${n}`);
    challenge = result.data.challenge!.challenge;
    return result.data.decision;
  }

  it('a format 2 proof the band made over BLE, relabelled as an NFC tap, is refused bad_signature', async () => {
    const d = await tap(1, 'nfc', 'ble');
    assert.equal(d.outcome, 'refused');
    assert.equal(d.reason, 'bad_signature');
  });

  it('a format 2 proof for the kind it claims is granted; so is a format 1 proof (legacy bands)', async () => {
    assert.equal((await tap(2, 'nfc', 'nfc')).outcome, 'granted');
    assert.equal((await tap(3, 'nfc', undefined)).outcome, 'granted');
  });
});
