import { AssertionVerifier, generateSigningKeyFile } from '@tapgate/assertions';
import { AuditTrail } from '@tapgate/audit';
import type { SoftwareBand } from '@tapgate/band';
import { AgentClient } from '@tapgate/endpoint-node';
import { waitFor } from '@tapgate/testing';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { RunningGateway } from './bootstrap';
import { neaClient, type RawClient } from './testing/clients';
import { GatewayTestStack, endpointUrl, neaUrl, serveUserStatuses } from './testing/stack';

describe('login and e-signature ceremonies with signed assertions and the audit trail', () => {
  let stack: GatewayTestStack;
  let gw: RunningGateway;
  let ep: AgentClient;
  let other: AgentClient;
  const bands: Record<string, SoftwareBand> = {};
  const dir = mkdtempSync(join(tmpdir(), 'tapgate-keys-'));
  const tapBy = (who: string, client = ep) =>
    client.tap({
      kind: 'nfc',
      bandId: bands[who].bandId,
      sign: (c, t) => bands[who].answerTap({ challenge: c, terminalId: t }),
    });

  before(async () => {
    stack = await GatewayTestStack.start();
    serveUserStatuses(stack.admin, { alice: 'active', erin: 'active', bob: 'disabled' });
    for (const u of ['alice', 'erin', 'bob']) {
      bands[u] = await stack.enroll(u);
      bands[u].clasp();
      bands[u].authenticate();
    }
    await stack.addTerminal('T-SIGN');
    await stack.addTerminal('T-ELSE');
    const key = join(dir, 'signing.pem');
    generateSigningKeyFile(key);
    gw = await stack.gateway({
      TAPGATE_ASSERTIONS_SIGNING_KEY_FILES: key,
      TAPGATE_GATEWAY_ESIGN_TIMEOUT_MS: '1500',
    });
    await waitFor(
      async () =>
        ((await (await fetch(`http://127.0.0.1:${gw.ports.http}/readyz`)).json()) as { ceremonies: boolean })
          .ceremonies,
    );
    ep = new AgentClient({
      url: endpointUrl(gw),
      terminalId: 'T-SIGN',
      credential: stack.terminals.get('T-SIGN')!.credential,
    });
    other = new AgentClient({
      url: endpointUrl(gw),
      terminalId: 'T-ELSE',
      credential: stack.terminals.get('T-ELSE')!.credential,
    });
    ep.start();
    other.start();
    await waitFor(() => ep.connected && other.connected);
  });
  after(async () => {
    await ep.stop();
    await other.stop();
    await stack.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const verifier = (audience: string, kind: 'login' | 'esign' = 'login') =>
    new AssertionVerifier({
      jwksUrl: `http://127.0.0.1:${gw.ports.http}/.well-known/jwks.json`,
      audience,
      kind,
    });

  it('logs alice in with a short-lived, single-use assertion her NEA server verifies against the JWKS', async () => {
    const nea = await neaClient(neaUrl(gw), 'T-SIGN');
    nea.send('login.request', { audience: 'pomsnet', nonce: 'n-login-1' }, 'L1');
    const pending = await nea.next('login.pending', (m) => m.ref === 'L1');
    await tapBy('alice');
    const result = await nea.next('login.result', (m) => m.data.requestId === pending.data.requestId);
    assert.equal(result.data.outcome, 'granted');
    const jws = result.data.assertion!;
    const v = verifier('pomsnet');
    const claims = await v.verify(jws);
    assert.equal(claims.sub, 'alice');
    assert.equal(claims.aud, 'pomsnet');
    assert.equal(claims.tapgate.kind, 'login');
    assert.equal(claims.nonce, 'n-login-1', "the relying party's nonce is in the assertion");
    assert.ok(claims.exp - claims.iat <= 60);
    await assert.rejects(v.verify(jws), /replay/i, 'single use');
    // One byte changed anywhere fails.
    const i = Math.floor(jws.length / 2);
    const altered = jws.slice(0, i) + (jws[i] === 'A' ? 'B' : 'A') + jws.slice(i + 1);
    await assert.rejects(verifier('pomsnet').verify(altered));
    await assert.rejects(verifier('someone-else').verify(jws), /audience/i);
    nea.close();
  });

  it('refuses a login by a user who is not active, with the reason, and issues nothing', async () => {
    const nea = await neaClient(neaUrl(gw), 'T-SIGN');
    nea.send('login.request', {}, 'L2');
    await nea.next('login.pending');
    await tapBy('bob');
    const result = await nea.next('login.result');
    assert.equal(result.data.outcome, 'refused');
    assert.equal(result.data.decision?.reason, 'user_not_active');
    assert.equal(result.data.decision?.status, 'disabled');
    assert.equal(result.data.assertion, undefined);
    nea.close();
  });

  it('runs a dual e-signature: alice then erin; alice twice is refused; other terminals cannot sign', async () => {
    const nea = await neaClient(neaUrl(gw), 'T-SIGN');
    nea.send(
      'esign.open',
      {
        reason: 'Edit equipment',
        comment: 'PM done',
        secondSignerRequired: true,
        audience: 'pomsnet',
        nonce: 'n-esign-1',
        recordHash: 'sha256-of-the-record',
      },
      'E1',
    );
    const opened = await nea.next('esign.opened', (m) => m.ref === 'E1');
    const id = opened.data.ceremonyId;
    await tapBy('alice');
    const first = await nea.next(
      'esign.signature',
      (m) => m.data.signer === 1 && m.data.outcome === 'granted',
    );
    await tapBy('alice');
    const twice = await nea.next('esign.signature', (m) => m.data.outcome === 'refused');
    assert.equal(twice.data.decision.reason, 'same_signer');
    await tapBy('erin', other); // another terminal: not delivered to this NEA at all
    await tapBy('erin');
    const closed = await nea.next('esign.closed', (m) => m.data.ceremonyId === id);
    assert.equal(closed.data.state, 'completed');
    assert.equal(closed.data.assertions.length, 2);
    const v = verifier('pomsnet', 'esign');
    const c1 = await v.verify(first.data.assertion!);
    assert.equal(c1.tapgate.reason, 'Edit equipment');
    assert.equal(c1.tapgate.ceremonyId, id);
    assert.equal(c1.tapgate.signer, 1);
    assert.equal(c1.nonce, 'n-esign-1');
    assert.equal(c1.tapgate.recordHash, 'sha256-of-the-record');
    assert.equal(c1.tapgate.secondSignerRequired, true);
    assert.equal(c1.tapgate.firstSignature, undefined);
    const c2 = await v.verify(closed.data.assertions[1]);
    assert.equal(c2.sub, 'erin');
    assert.equal(c2.tapgate.signer, 2);
    assert.equal(c2.nonce, 'n-esign-1');
    assert.equal(c2.tapgate.recordHash, 'sha256-of-the-record');
    assert.equal(c2.tapgate.firstSignature, c1.jti, "signer 2's assertion links to signer 1's");
    assert.ok(!nea.frames.some((f) => f.type === 'tap' && f.data.terminalId === 'T-ELSE'));
    nea.close();
  });

  it('expires a ceremony after the timeout, and cancels on request', async () => {
    const nea: RawClient = await neaClient(neaUrl(gw), 'T-SIGN');
    nea.send('esign.open', { reason: 'Release batch', secondSignerRequired: true }, 'E2');
    const a = await nea.next('esign.opened', (m) => m.ref === 'E2');
    const expired = await nea.next('esign.closed', (m) => m.data.ceremonyId === a.data.ceremonyId, 5000);
    assert.equal(expired.data.state, 'expired');
    nea.send('esign.open', { reason: 'Release batch', secondSignerRequired: false }, 'E3');
    const b = await nea.next('esign.opened', (m) => m.ref === 'E3');
    nea.send('esign.cancel', { ceremonyId: b.data.ceremonyId }, 'C3');
    const cancelled = await nea.next('esign.closed', (m) => m.ref === 'C3');
    assert.equal(cancelled.data.state, 'cancelled');
    nea.close();
  });

  it('appends every decision to a hash chain that verifies', async () => {
    const trail = new AuditTrail(stack.admin);
    const expected = [
      'login:granted',
      'login:refused:user_not_active',
      'esign:refused:same_signer',
      'esign:completed',
      'esign:expired',
      'esign:cancelled',
    ];
    // Refusals and closings are appended without holding up the NEA, so they may land a moment later.
    const kinds = await waitFor(
      async () => {
        const exported = await trail.exportRange({
          from: new Date(Date.now() - 600_000),
          to: new Date(),
          format: 'json',
        });
        const found = (
          JSON.parse(exported.body) as Array<{ record: { kind: string; outcome: string; reason?: string } }>
        ).map(({ record: r }) => `${r.kind}:${r.outcome}${r.reason ? ':' + r.reason : ''}`);
        return expected.every((k) => found.includes(k)) ? found : undefined;
      },
      { what: `audit records ${expected.join(', ')}` },
    );
    assert.ok(kinds.length >= 8, `records: ${kinds.length}`);
    const report = await trail.verifyChain();
    assert.equal(report.ok, true, JSON.stringify(report));
    assert.equal(report.checked, kinds.length);
  });
});
