import { CloseCode, type TerminalRecord } from '@tapgate/contracts';
import { AgentClient } from '@tapgate/endpoint-node';
import { makeTestPki, waitFor, type TestPem, type TestPki } from '@tapgate/testing';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type { RunningGateway } from './bootstrap';
import { RawClient } from './testing/clients';
import { GatewayTestStack, endpointUrl } from './testing/stack';

type TerminalCert = TestPem & { sha256: string };

interface Presented {
  cert?: TestPem;
  credential?: string;
}

/** Opens a wss endpoint socket as a terminal (or an attacker) would and sends hello. */
async function endpointHello(
  gw: RunningGateway,
  pki: TestPki,
  terminalId: string,
  presented: Presented,
): Promise<{ client: RawClient; welcomed: boolean; closeCode?: number }> {
  const client = await RawClient.open(endpointUrl(gw, 'wss'), {
    ca: pki.ca.cert,
    ...(presented.cert ? { cert: presented.cert.cert, key: presented.cert.key } : {}),
  });
  client.send('hello', { role: 'endpoint', terminalId, credential: presented.credential }, 'h');
  for (;;) {
    const frame = client.frames.find((f) => f.type === 'welcome' || f.type === 'error');
    if (frame?.type === 'welcome') return { client, welcomed: true };
    if (frame?.type === 'error' || client.closed) {
      const closed = await client.waitClosed();
      return { client, welcomed: false, closeCode: closed.code };
    }
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** Readiness includes the terminal registry: before it, every hello is answered "retry". */
const ready = (gw: RunningGateway) =>
  waitFor(async () => (await fetch(`http://127.0.0.1:${gw.ports.http}/readyz`)).ok, {
    what: 'gateway ready',
  });

const mtlsEnv = (pki: TestPki, extra: Record<string, string> = {}) => ({
  TAPGATE_AGENT_PROTOCOL: 'wss',
  TAPGATE_AGENT_CACERTFILE: pki.ca.certFile,
  TAPGATE_AGENT_CERTFILE: pki.server.certFile,
  TAPGATE_AGENT_KEYFILE: pki.server.keyFile,
  TAPGATE_GATEWAY_ENDPOINT_MTLS: 'true',
  ...extra,
});

describe('terminal endpoints: one set of rules for certificates and credentials, enforced live', () => {
  let stack: GatewayTestStack;
  let pki: TestPki;
  let gwA: RunningGateway;
  let gwB: RunningGateway;
  const certs = new Map<string, TerminalCert>();
  const cert = (id: string) => certs.get(id)!;
  const credential = (id: string) => stack.terminals.get(id)!.credential;

  before(async () => {
    [stack, pki] = await Promise.all([GatewayTestStack.start(), makeTestPki()]);
    const ids = [
      'T-OK',
      'T-OFF',
      'T-GHOST',
      'T-PIN',
      'T-CRL',
      'T-CRL2',
      'T-CUT1',
      'T-CUT2',
      'T-CUT3',
      'T-CUT4',
    ];
    for (const id of ids) certs.set(id, await pki.issueClient(id));
    for (const id of ids.filter((i) => i !== 'T-GHOST')) await stack.addTerminal(id, id !== 'T-OFF');
    await stack.updateTerminal('T-PIN', (r) => ({ ...r, certificateSha256: [cert('T-PIN').sha256] }));
    [gwA, gwB] = await Promise.all([stack.gateway(mtlsEnv(pki)), stack.gateway(mtlsEnv(pki))]);
    await Promise.all([gwA, gwB].map(ready));
  });
  after(async () => {
    await stack.stop();
    pki.dispose();
  });

  it('welcomes a registered, enabled terminal by certificate, by certificate + credential, and by a pinned certificate', async () => {
    for (const [id, presented] of [
      ['T-OK', { cert: cert('T-OK') }],
      ['T-OK', { cert: cert('T-OK'), credential: credential('T-OK') }],
      ['T-OK', { credential: credential('T-OK') }],
      ['T-PIN', { cert: cert('T-PIN') }],
    ] as Array<[string, Presented]>) {
      const r = await endpointHello(gwA, pki, id, presented);
      assert.equal(r.welcomed, true, `${id} ${Object.keys(presented).join('+')}`);
      r.client.close();
      await r.client.waitClosed();
    }
  });

  it('ATTACK: disabled, unregistered, wrong-credential and unpinned mTLS terminals are refused (welcomed: 0)', async () => {
    const other = await pki.issueClient('T-PIN');
    const attempts: Array<[string, string, Presented]> = [
      ['disabled terminal, its own certificate', 'T-OFF', { cert: cert('T-OFF') }],
      [
        'disabled terminal, certificate + right credential',
        'T-OFF',
        { cert: cert('T-OFF'), credential: credential('T-OFF') },
      ],
      ['unregistered terminal, certificate from the CA', 'T-GHOST', { cert: cert('T-GHOST') }],
      [
        'matching certificate, wrong credential',
        'T-OK',
        { cert: cert('T-OK'), credential: randomBytes(32).toString('base64url') },
      ],
      ['pinned terminal, another certificate with its CN', 'T-PIN', { cert: other }],
      ['pinned terminal, credential alone', 'T-PIN', { credential: credential('T-PIN') }],
      ['certificate naming another terminal, no credential', 'T-OK', { cert: cert('T-PIN') }],
    ];
    let welcomed = 0;
    for (const gw of [gwA, gwB]) {
      for (const [what, id, presented] of attempts) {
        const r = await endpointHello(gw, pki, id, presented);
        if (r.welcomed) welcomed++;
        assert.equal(r.welcomed, false, what);
        assert.equal(r.closeCode, CloseCode.Unauthorized, what);
        assert.equal(r.client.frames[0]?.type, 'error');
      }
    }
    console.log(`mTLS attack attempts: ${attempts.length * 2} on two replicas; welcomed: ${welcomed}`);
    assert.equal(welcomed, 0);
  });

  it('ATTACK: a certificate revoked by the CRL is refused, even beside the right credential (welcomed: 0)', async () => {
    const crlFile = await pki.revoke(cert('T-CRL'));
    const gwC = await stack.gateway(mtlsEnv(pki, { TAPGATE_AGENT_CRLFILE: crlFile }));
    await ready(gwC);
    let welcomed = 0;
    for (const presented of [
      { cert: cert('T-CRL') },
      { cert: cert('T-CRL'), credential: credential('T-CRL') },
    ]) {
      const r = await endpointHello(gwC, pki, 'T-CRL', presented);
      if (r.welcomed) welcomed++;
      assert.equal(r.closeCode, CloseCode.Unauthorized);
    }
    // A certificate of the same CA that is not on the list still works.
    const good = await endpointHello(gwC, pki, 'T-CRL2', { cert: cert('T-CRL2') });
    assert.equal(good.welcomed, true);
    good.client.close();
    console.log(`CRL-revoked certificate attempts: 2; welcomed: ${welcomed}`);
    assert.equal(welcomed, 0);
  });

  it('disable, delete, credential rotation and pin change close the terminal socket on either replica within 1 s; reconnects are refused', async () => {
    const sha = (text: string) => createHash('sha256').update(text).digest('hex');
    const cases: Array<{
      what: string;
      id: string;
      gw: RunningGateway;
      presented: Presented;
      change: () => Promise<unknown>;
    }> = [
      {
        what: 'disable (mTLS socket)',
        id: 'T-CUT1',
        gw: gwA,
        presented: { cert: cert('T-CUT1') },
        change: () => stack.updateTerminal('T-CUT1', (r) => ({ ...r, enabled: false })),
      },
      {
        what: 'delete (credential socket)',
        id: 'T-CUT2',
        gw: gwB,
        presented: { credential: credential('T-CUT2') },
        change: () => stack.deleteTerminal('T-CUT2'),
      },
      {
        what: 'credential rotated (certificate + credential socket)',
        id: 'T-CUT3',
        gw: gwA,
        presented: { cert: cert('T-CUT3'), credential: credential('T-CUT3') },
        change: () =>
          stack.updateTerminal('T-CUT3', (r) => ({
            ...r,
            credentialSha256: sha(randomBytes(32).toString('base64url')),
          })),
      },
      {
        what: 'pins changed to another certificate (mTLS socket)',
        id: 'T-CUT4',
        gw: gwB,
        presented: { cert: cert('T-CUT4') },
        change: async () => {
          const renewed = await pki.issueClient('T-CUT4');
          return stack.updateTerminal('T-CUT4', (r) => ({ ...r, certificateSha256: [renewed.sha256] }));
        },
      },
    ];
    for (const c of cases) {
      const live = await endpointHello(c.gw, pki, c.id, c.presented);
      assert.equal(live.welcomed, true, c.what);
      // The other, unaffected terminal stays connected throughout.
      const bystander = await endpointHello(c.gw === gwA ? gwB : gwA, pki, 'T-OK', { cert: cert('T-OK') });
      assert.equal(bystander.welcomed, true);
      const started = performance.now();
      await c.change();
      const closed = await live.client.waitClosed(1000);
      const ms = performance.now() - started;
      assert.equal(closed.code, CloseCode.Revoked, c.what);
      console.log(
        `${c.what}: socket closed ${ms.toFixed(0)} ms after the record changed (code ${closed.code})`,
      );
      assert.ok(ms < 1000, `${c.what}: ${ms} ms`);
      // The terminal cannot tap any more: its socket is gone, and reconnecting on either replica is refused.
      assert.equal(live.client.ws.readyState, live.client.ws.CLOSED);
      for (const gw of [gwA, gwB]) {
        const again = await endpointHello(gw, pki, c.id, c.presented);
        assert.equal(again.welcomed, false, `${c.what}: reconnect`);
        assert.equal(again.closeCode, CloseCode.Unauthorized);
      }
      assert.equal(bystander.client.closed, undefined, 'other terminals are not disturbed');
      bystander.client.close();
      await bystander.client.waitClosed();
    }
  });

  it('the endpoint node connects by its client certificate alone (nbe.toml certfile/keyfile) and taps', async () => {
    const ep = new AgentClient({
      url: endpointUrl(gwB, 'wss'),
      terminalId: 'T-OK',
      ca: pki.ca.cert,
      clientCertificate: { cert: cert('T-OK').cert, key: cert('T-OK').key },
    });
    ep.start();
    await waitFor(() => ep.connected, { what: 'endpoint node over mTLS' });
    const r = await ep.tap({ kind: 'nfc', bandId: 'no-such-band' });
    assert.equal(r.decision.outcome, 'refused', 'the tap reached the decider');
    await ep.stop();
  });

  it('a renewal overlap: with two pins both certificates work; removing the old pin cuts only the old one', async () => {
    const renewed = await pki.issueClient('T-PIN');
    const before: TerminalRecord = await stack.updateTerminal('T-PIN', (r) => ({
      ...r,
      certificateSha256: [cert('T-PIN').sha256, renewed.sha256],
    }));
    assert.equal(before.certificateSha256?.length, 2);
    await waitFor(async () => {
      const r = await endpointHello(gwB, pki, 'T-PIN', { cert: renewed });
      r.client.close();
      return r.welcomed;
    });
    const old = await endpointHello(gwA, pki, 'T-PIN', { cert: cert('T-PIN') });
    assert.equal(old.welcomed, true);
    await stack.updateTerminal('T-PIN', (r) => ({ ...r, certificateSha256: [renewed.sha256] }));
    assert.equal((await old.client.waitClosed(1000)).code, CloseCode.Revoked);
    const fresh = await endpointHello(gwA, pki, 'T-PIN', { cert: renewed });
    assert.equal(fresh.welcomed, true);
    fresh.client.close();
  });
});
