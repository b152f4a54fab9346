// RDP/Citrix (docs/protocol.md §4, "Remote sessions"): an NEA client in a remote session binds implicitly
// through the session host's trusted proxy, which reports the session's client (address in
// X-Forwarded-For, name in X-Tapgate-Client-Name); the terminal whose remoteClients list that client gets
// the session its taps. Real gateway, real NATS (JetStream KV), real endpoint client.
import { generateSigningKeyFile } from '@tapgate/assertions';
import type { SoftwareBand } from '@tapgate/band';
import { REMOTE_CLIENT_NAME_HEADER, type TerminalRecord } from '@tapgate/contracts';
import { AgentClient } from '@tapgate/endpoint-node';
import { waitFor } from '@tapgate/testing';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { RunningGateway } from './bootstrap';
import { neaClient, RawClient } from './testing/clients';
import { GatewayTestStack, endpointUrl, neaUrl, serveUserStatuses } from './testing/stack';

const THIN = 'THIN-07';
const OTHER = 'THIN-08';
/** The session host's proxy: the only trusted one. Everything else connects from other loopback addresses. */
const PROXY = '127.0.0.1';
const UNTRUSTED = '127.0.0.2';
const SESSION_CLIENT = '10.77.0.21';

const withRemoteClients =
  (addresses: string[], names: string[]) =>
  (r: TerminalRecord): TerminalRecord => ({ ...r, remoteClients: { addresses, names } });

describe('RDP/Citrix: remote-session clients mapped to terminals', () => {
  let stack: GatewayTestStack;
  let gw: RunningGateway;
  let ep: AgentClient;
  let band: SoftwareBand;
  const dir = mkdtempSync(join(tmpdir(), 'tapgate-rdp-'));

  /** An NEA client as a session host's proxy forwards it (or, with `from`, connecting on its own). */
  const session = (headers: Record<string, string>, from = PROXY) =>
    neaClient(neaUrl(gw), undefined, { localAddress: from, headers });
  const tap = () =>
    ep.tap({
      kind: 'nfc',
      bandId: band.bandId,
      sign: (c, t) => band.answerTap({ challenge: c, terminalId: t }),
    });

  before(async () => {
    stack = await GatewayTestStack.start();
    serveUserStatuses(stack.admin, { alice: 'active' });
    band = await stack.enroll('alice');
    band.clasp();
    band.authenticate();
    await stack.addTerminal(THIN);
    await stack.addTerminal(OTHER);
    await stack.updateTerminal(THIN, withRemoteClients([SESSION_CLIENT], ['THIN07-CLIENT', 'SHARED-NAME']));
    await stack.updateTerminal(OTHER, withRemoteClients([], ['SHARED-NAME']));
    const key = join(dir, 'signing.pem');
    generateSigningKeyFile(key);
    gw = await stack.gateway({
      TAPGATE_ASSERTIONS_SIGNING_KEY_FILES: key,
      TAPGATE_GATEWAY_TRUSTED_PROXIES: `${PROXY}/32`,
    });
    ep = new AgentClient({
      url: endpointUrl(gw),
      terminalId: THIN,
      credential: stack.terminals.get(THIN)!.credential,
    });
    ep.start();
    await waitFor(() => ep.connected, { what: 'thin client endpoint connected' });
  });

  after(async () => {
    await ep?.stop();
    await stack?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("delivers the terminal's taps to sessions of its clients, by address or by client name, and to no one else", async () => {
    const byAddress = await session({ 'x-forwarded-for': SESSION_CLIENT });
    // The session host reports its own address in X-Forwarded-For, the thin client by name (any case).
    const byName = await session({
      'x-forwarded-for': '10.77.5.5',
      [REMOTE_CLIENT_NAME_HEADER]: 'thin07-client',
    });
    const unmapped = await session({
      'x-forwarded-for': '10.77.0.55',
      [REMOTE_CLIENT_NAME_HEADER]: 'NOBODY',
    });
    // Not through the proxy: the same claims are not believed, the socket binds to its own address.
    const spoofer = await session(
      { 'x-forwarded-for': SESSION_CLIENT, [REMOTE_CLIENT_NAME_HEADER]: 'THIN07-CLIENT' },
      UNTRUSTED,
    );
    const binding = (c: RawClient) => c.frames.find((f) => f.type === 'welcome')!.data.binding;
    assert.deepEqual(binding(byAddress), { mode: 'implicit', address: SESSION_CLIENT, terminalId: THIN });
    assert.deepEqual(binding(byName), { mode: 'implicit', address: '10.77.5.5', terminalId: THIN });
    assert.deepEqual(binding(unmapped), { mode: 'implicit', address: '10.77.0.55' });
    assert.deepEqual(binding(spoofer), { mode: 'implicit', address: UNTRUSTED });

    const result = await tap();
    assert.equal(result.decision.outcome, 'granted', JSON.stringify(result.decision));
    assert.equal(result.deliveredTo, 2, 'the two mapped sessions, nobody else');
    for (const c of [byAddress, byName]) {
      const got = await c.next('tap');
      assert.equal(got.data.terminalId, THIN);
      assert.equal(got.data.bandId, band.bandId);
    }
    for (const c of [unmapped, spoofer]) assert.equal(c.frames.filter((f) => f.type === 'tap').length, 0);

    // A mapped session still gets no presence stream: that needs an explicit, authorized binding.
    byAddress.send('presence.subscribe', {}, 'p1');
    const refused = await byAddress.next('error', (e) => e.ref === 'p1');
    assert.match(refused.data.message, /explicit terminal binding/);
    for (const c of [byAddress, byName, unmapped, spoofer]) c.close();
  });

  it('refuses a client that two terminals list, binding it to neither', async () => {
    const c = await RawClient.open(neaUrl(gw), {
      localAddress: PROXY,
      headers: { 'x-forwarded-for': '10.77.9.9', [REMOTE_CLIENT_NAME_HEADER]: 'SHARED-NAME' },
    });
    c.send('hello', { role: 'nea' }, 'h');
    const err = await c.next('error');
    assert.equal(err.data.code, 'unauthorized');
    assert.match(err.data.message, /several terminals \(THIN-07, THIN-08\)/);
    assert.equal((await c.waitClosed()).code, 4001);
    assert.equal(c.frames.filter((f) => f.type === 'welcome').length, 0);
  });

  it('closes a mapped session when the administrator changes the mapping', async () => {
    const c = await session({ 'x-forwarded-for': SESSION_CLIENT });
    const unrelated = await session({ 'x-forwarded-for': '10.77.0.56' });
    await stack.updateTerminal(THIN, withRemoteClients([], ['THIN07-CLIENT', 'SHARED-NAME']));
    const err = await c.next('error');
    assert.match(err.data.message, /remote-session mapping of this client changed/);
    assert.equal((await c.waitClosed()).code, 4001);
    // Re-binding now follows the new mapping: the address alone no longer names the terminal.
    const again = await session({ 'x-forwarded-for': SESSION_CLIENT });
    assert.deepEqual(again.frames.find((f) => f.type === 'welcome')!.data.binding, {
      mode: 'implicit',
      address: SESSION_CLIENT,
    });
    assert.equal(unrelated.closed, undefined, 'sockets whose mapping did not change stay open');
    again.close();
    unrelated.close();
  });
});
