import assert from 'node:assert/strict';
import { after, afterEach, describe, it } from 'node:test';
import { freePort, sleep, waitFor } from '@tapgate/testing';
import {
  CONNECTED_MESSAGE,
  DISCONNECTED_MESSAGE,
  TapgateClient,
  type ClientEvents,
  type TapgateClientOptions,
} from './client';
import { TapgateError } from './errors';
import type { EsignSignature, TapDecision } from './frames';
import { ProtocolPeer } from './testing/peer';

const ALICE: TapDecision = {
  outcome: 'granted',
  message: 'Welcome, Alice Able.',
  user: { sAMAccountName: 'alice', displayName: 'Alice Able' },
  status: 'active',
  identifiedBy: 'proof',
};
const BOB_DISABLED: TapDecision = {
  outcome: 'refused',
  reason: 'user_not_active',
  status: 'disabled',
  message: 'Your account is disabled in Active Directory.',
  user: { sAMAccountName: 'bob', displayName: 'Bob Baker' },
  identifiedBy: 'proof',
};
const JWS = 'eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJl';

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** A peer plus a client connected to it, recording every event. */
async function setup(
  opts: Partial<TapgateClientOptions> = {},
  peerOpts: { heartbeatIntervalMs?: number } = {},
) {
  const peer = await ProtocolPeer.start(peerOpts);
  const client = new TapgateClient({
    host: '127.0.0.1',
    port: peer.port,
    protocol: 'ws',
    terminal: 'LINE1-T04',
    authUrl: 'https://mes.example.com/NES',
    reconnect: { initialDelayMs: 20, maxDelayMs: 100 },
    ...opts,
  });
  const events: { [K in keyof ClientEvents]: Array<ClientEvents[K]> } = {
    connected: [],
    disconnected: [],
    tap: [],
    presence: [],
    'login.pending': [],
    error: [],
  };
  for (const type of Object.keys(events) as Array<keyof ClientEvents>) {
    client.on(type, (e) => (events[type] as unknown[]).push(e));
  }
  cleanups.push(() => peer.stop());
  cleanups.push(() => client.close());
  cleanups.push(() =>
    assert.deepEqual(peer.violations, [], 'every frame the SDK sent is valid per @tapgate/contracts'),
  );
  return { peer, client, events };
}

async function connected(s: Awaited<ReturnType<typeof setup>>, count = 1): Promise<void> {
  s.client.connect();
  await waitFor(() => s.events.connected.length >= count, { what: `connected #${count}` });
}

describe('TapgateClient: connection', () => {
  it('connects to protocol://host:port/, says hello as an NEA and shows the connected text', async () => {
    const s = await setup({ app: { name: 'POMSnet', version: '2024.1' } });
    await connected(s);
    assert.equal(s.client.url, `ws://127.0.0.1:${s.peer.port}/`);
    assert.equal(
      s.events.connected[0].message,
      'Connected to authentication service. Tap device on NFC reader.',
    );
    assert.equal(s.events.connected[0].message, CONNECTED_MESSAGE);
    assert.deepEqual(s.events.connected[0].binding, { mode: 'explicit', terminalId: 'LINE1-T04' });
    assert.deepEqual(s.peer.latest.hello, {
      role: 'nea',
      terminalId: 'LINE1-T04',
      app: { name: 'POMSnet', version: '2024.1' },
      authUrl: 'https://mes.example.com/NES',
    });
    assert.equal(s.client.state, 'connected');
    assert.equal(s.events.disconnected.length, 0);
  });

  it('passes an application credential in hello', async () => {
    const s = await setup({ credential: 'app-secret-123' });
    await connected(s);
    assert.equal(s.peer.latest.hello?.credential, 'app-secret-123');
    assert.equal(s.peer.latest.hello?.terminalId, 'LINE1-T04');
  });

  it('without a terminal it asks for implicit binding', async () => {
    const s = await setup({ terminal: undefined });
    await connected(s);
    assert.deepEqual(s.peer.latest.hello, { role: 'nea', authUrl: 'https://mes.example.com/NES' });
    assert.equal(s.events.connected[0].binding?.mode, 'implicit');
  });

  it('shows the disconnected text once per outage and reconnects by itself', async () => {
    const s = await setup();
    await connected(s);
    await s.peer.stop(1001);
    await waitFor(() => s.events.disconnected.length === 1, { what: 'disconnected' });
    assert.equal(
      s.events.disconnected[0].message,
      'Disconnected from authentication service. Enter userid and password.',
    );
    assert.equal(s.events.disconnected[0].message, DISCONNECTED_MESSAGE);
    assert.equal(s.events.disconnected[0].willReconnect, true);
    await sleep(300); // several failed attempts while the server is down...
    assert.equal(s.events.disconnected.length, 1, '...announce nothing new');
    await s.peer.listen();
    await waitFor(() => s.events.connected.length === 2, { what: 'reconnected' });
    assert.equal(s.peer.count('hello'), 2, 'a new hello on the new socket');
    await s.peer.stop(4009);
    await waitFor(() => s.events.disconnected.length === 2);
    assert.equal(s.events.disconnected[1].code, 4009);
  });

  it('after a drain (1012) reconnects after the hinted delay, not its backoff; a bad hint gets the backoff', async (t) => {
    // The backoff is pinned near its 1.5 s cap, so a fast reconnect can only come from the hint.
    t.mock.method(Math, 'random', () => 0.999);
    const s = await setup({ reconnect: { initialDelayMs: 1500, maxDelayMs: 1500 } });
    await connected(s);
    const gap = async (code: number, reason: string, count: number): Promise<number> => {
      const closedAt = Date.now();
      s.peer.latest.socket.close(code, reason);
      await waitFor(() => s.events.connected.length >= count, {
        timeoutMs: 5000,
        what: `connected #${count}`,
      });
      return Date.now() - closedAt;
    };
    const hinted = await gap(1012, '{"reconnectAfterMs":200}', 2);
    assert.ok(hinted >= 190 && hinted < 1000, `hinted reconnect after ${hinted} ms`);
    assert.deepEqual(
      [s.events.disconnected.at(-1)?.code, s.events.disconnected.at(-1)?.reason],
      [1012, '{"reconnectAfterMs":200}'],
    );
    for (const [i, reason] of ['{"reconnectAfterMs":"200"}', 'not json', ''].entries()) {
      const fallback = await gap(1012, reason, 3 + i);
      assert.ok(fallback >= 1400, `a bad hint (${reason}) fell back to the backoff: ${fallback} ms`);
    }
    const plain = await gap(1001, '{"reconnectAfterMs":0}', 6);
    assert.ok(plain >= 1400, `1001 ignores any hint: ${plain} ms`);
  });

  it('a server that is down at start gives the disconnected text, then connected once it is up', async () => {
    const port = await freePort();
    const s = await setup({ port });
    await s.peer.stop();
    s.client.connect();
    await waitFor(() => s.events.disconnected.length === 1, { what: 'disconnected' });
    assert.equal(s.events.connected.length, 0);
    const peer = await ProtocolPeer.start({ port });
    cleanups.push(() => peer.stop());
    await waitFor(() => s.events.connected.length === 1, { what: 'connected' });
  });

  it('wss against a ws-only port shows the disconnected text', async () => {
    const s = await setup({ protocol: 'wss' });
    s.client.connect();
    await waitFor(() => s.events.disconnected.length === 1, { what: 'disconnected' });
    assert.equal(s.client.url, `wss://127.0.0.1:${s.peer.port}/`);
    assert.equal(s.events.connected.length, 0);
    assert.equal(s.events.disconnected[0].message, DISCONNECTED_MESSAGE);
  });

  it('sends heartbeats, and treats 2.5 silent intervals as a lost connection', async () => {
    const s = await setup({}, { heartbeatIntervalMs: 100 });
    await connected(s);
    await waitFor(() => s.peer.count('ping') >= 3, { what: 'three pings' });
    s.peer.silenced.add(s.peer.latest); // a half-open connection: the socket stays open, nothing comes back
    const silentSince = Date.now();
    await waitFor(() => s.events.disconnected.length === 1, { what: 'heartbeat timeout', timeoutMs: 3_000 });
    const took = Date.now() - silentSince;
    assert.ok(took >= 200 && took < 2_000, `declared lost after ${took} ms`);
    await waitFor(() => s.events.connected.length === 2, { what: 'reconnected' });
  });

  it('close() stops reconnecting, and rejects operations with "closed"', async () => {
    const s = await setup();
    await connected(s);
    const login = s.client.login();
    s.client.close();
    await assert.rejects(login, (e: unknown) => e instanceof TapgateError && e.code === 'closed');
    assert.equal(s.events.disconnected.at(-1)?.willReconnect, false);
    await sleep(200);
    assert.equal(s.peer.count('hello'), 1);
    assert.throws(() => s.client.connect(), /closed/);
  });

  it('rejects bad options at construction', () => {
    const base = { host: 'gw.plant.example', port: 9120, protocol: 'ws' } as const;
    assert.equal(
      new TapgateClient({ ...base, port: '4443', protocol: 'wss' }).url,
      'wss://gw.plant.example:4443/',
    );
    assert.equal(new TapgateClient({ ...base, host: '::1' }).url, 'ws://[::1]:9120/');
    assert.throws(() => new TapgateClient({ ...base, host: 'ws://x' }), /host/);
    assert.throws(() => new TapgateClient({ ...base, port: 0 }), /port/);
    assert.throws(() => new TapgateClient({ ...base, protocol: 'http' as 'ws' }), /protocol/);
    assert.throws(() => new TapgateClient({ ...base, terminal: 'bad terminal' }), /terminal/);
  });
});

describe('TapgateClient: taps, presence, robustness', () => {
  it('emits every tap and presence change; ignores malformed frames and tolerates new fields', async () => {
    const s = await setup();
    await connected(s);
    s.client.subscribePresence();
    await s.peer.next('presence.subscribe');
    const conn = s.peer.latest;
    conn.sendRaw('not json');
    conn.sendRaw(JSON.stringify({ v: 2, type: 'tap', data: {} }));
    conn.sendRaw(JSON.stringify({ v: 1, type: 'tap', data: { tapId: 'x' } }));
    conn.sendRaw(JSON.stringify({ v: 1, type: 'something.new', data: {} }));
    conn.send('tap', {
      tapId: 't1',
      terminalId: 'LINE1-T04',
      kind: 'nfc',
      decision: BOB_DISABLED,
      at: new Date().toISOString(),
    });
    conn.sendRaw(
      JSON.stringify({
        v: 1,
        type: 'tap',
        data: {
          tapId: 't2',
          terminalId: 'LINE1-T04',
          kind: 'nfc',
          decision: ALICE,
          at: new Date().toISOString(),
          added: 1,
        },
      }),
    );
    conn.send('presence', {
      terminalId: 'LINE1-T04',
      bandId: 'band-A',
      presence: 'yes',
      authenticated: true,
      at: new Date().toISOString(),
    });
    await waitFor(() => s.events.tap.length === 2 && s.events.presence.length === 1);
    assert.deepEqual(
      s.events.tap.map((t) => [t.tapId, t.decision.outcome, t.decision.reason]),
      [
        ['t1', 'refused', 'user_not_active'],
        ['t2', 'granted', undefined],
      ],
    );
    assert.equal(s.client.state, 'connected');
    // Presence is asked for again after a reconnect.
    s.peer.latest.socket.close(1001);
    await waitFor(() => s.events.connected.length === 2);
    await s.peer.next('presence.subscribe');
  });

  it('debug logs every step to the console, with assertions shortened', async (t) => {
    const lines: string[] = [];
    t.mock.method(console, 'debug', (...args: unknown[]) => lines.push(JSON.stringify(args)));
    const s = await setup({ debug: true });
    await connected(s);
    const login = s.client.login();
    const { conn, message } = await s.peer.next('login.request');
    conn.send(
      'login.result',
      { requestId: 'r1', outcome: 'granted', decision: ALICE, assertion: JWS },
      message.ref,
    );
    await login;
    const all = lines.join('\n');
    for (const step of [
      'connecting',
      'sending hello',
      'received welcome',
      'send login.request',
      'received login.result',
    ]) {
      assert.ok(all.includes(step), `logged "${step}"`);
    }
    assert.ok(!all.includes(JWS), 'the assertion is not logged whole');
    assert.ok(all.includes(JWS.slice(0, 12)));
  });
});

describe('TapgateClient: login', () => {
  it('login() resolves with the granted result and its assertion', async () => {
    const s = await setup();
    await connected(s);
    const result = s.client.login({ audience: 'pomsnet', timeoutMs: 30_000 });
    const { conn, message } = await s.peer.next('login.request');
    assert.deepEqual(message.data, { audience: 'pomsnet', timeoutMs: 30_000 });
    conn.send(
      'login.pending',
      { requestId: 'req-1', expiresAt: new Date(Date.now() + 30_000).toISOString() },
      message.ref,
    );
    await waitFor(() => s.events['login.pending'].length === 1);
    // A tap is delivered as a tap event too; the result follows.
    conn.send('login.result', { requestId: 'req-1', outcome: 'granted', decision: ALICE, assertion: JWS });
    const r = await result;
    assert.equal(r.outcome, 'granted');
    assert.equal(r.assertion, JWS);
    assert.equal(r.decision?.user?.sAMAccountName, 'alice');
  });

  it('a refused tap resolves with the reason; a grant without an assertion is not accepted', async () => {
    const s = await setup();
    await connected(s);
    const refused = s.client.login();
    let { conn, message } = await s.peer.next('login.request');
    conn.send(
      'login.result',
      { requestId: 'req-2', outcome: 'refused', decision: BOB_DISABLED },
      message.ref,
    );
    const r = await refused;
    assert.equal(r.outcome, 'refused');
    assert.equal(r.decision?.reason, 'user_not_active');
    assert.equal(r.decision?.status, 'disabled');

    const bogus = s.client.login({ timeoutMs: 1_000 });
    ({ conn, message } = await s.peer.next('login.request'));
    conn.sendRaw(
      JSON.stringify({
        v: 1,
        type: 'login.result',
        ref: message.ref,
        data: { requestId: 'req-3', outcome: 'granted' },
      }),
    );
    conn.send('login.result', { requestId: 'req-3', outcome: 'expired' }, message.ref);
    assert.equal((await bogus).outcome, 'expired', 'the malformed grant was ignored');
  });

  it('rejects when disconnected, when one is already waiting, and when the server refuses', async () => {
    const s = await setup();
    await assert.rejects(
      s.client.login(),
      (e: unknown) => e instanceof TapgateError && e.code === 'disconnected',
    );
    await connected(s);
    const first = s.client.login();
    await assert.rejects(
      s.client.login(),
      (e: unknown) => e instanceof TapgateError && e.code === 'conflict',
    );
    const { conn, message } = await s.peer.next('login.request');
    conn.send('error', { code: 'unavailable', message: 'assertions are not configured' }, message.ref);
    await assert.rejects(first, (e: unknown) => e instanceof TapgateError && e.code === 'unavailable');

    const lost = s.client.login();
    await s.peer.next('login.request');
    s.peer.latest.socket.close(1001);
    await assert.rejects(lost, (e: unknown) => e instanceof TapgateError && e.code === 'disconnected');
  });

  it('cancelLogin() sends login.cancel; the promise resolves as cancelled', async () => {
    const s = await setup();
    await connected(s);
    assert.equal(s.client.cancelLogin(), false, 'nothing to cancel');
    const login = s.client.login();
    const req = await s.peer.next('login.request');
    req.conn.send(
      'login.pending',
      { requestId: 'req-9', expiresAt: new Date().toISOString() },
      req.message.ref,
    );
    await waitFor(() => s.events['login.pending'].length === 1);
    assert.equal(s.client.cancelLogin(), true);
    const cancel = await s.peer.next('login.cancel');
    cancel.conn.send('login.result', { requestId: 'req-9', outcome: 'cancelled' }, cancel.message.ref);
    assert.equal((await login).outcome, 'cancelled');

    // A server that no longer had it open answers the cancel with an error: the login still ends.
    const again = s.client.login();
    await s.peer.next('login.request');
    s.client.cancelLogin();
    const c2 = await s.peer.next('login.cancel');
    c2.conn.send('error', { code: 'conflict', message: 'no login open' }, c2.message.ref);
    assert.equal((await again).outcome, 'cancelled');
  });
});

describe('TapgateClient: e-signatures', () => {
  it('two signers: refusals and grants arrive in order; done resolves with the assertions', async () => {
    const s = await setup();
    await connected(s);
    const ceremony = s.client.esign({
      reason: 'Edit equipment',
      comment: 'PM-42',
      secondSignerRequired: true,
    });
    const { conn, message } = await s.peer.next('esign.open');
    assert.deepEqual(message.data, {
      reason: 'Edit equipment',
      comment: 'PM-42',
      secondSignerRequired: true,
    });
    conn.send(
      'esign.opened',
      { ceremonyId: 'c-1', expiresAt: new Date(Date.now() + 120_000).toISOString() },
      message.ref,
    );
    assert.equal((await ceremony.opened).ceremonyId, 'c-1');
    assert.equal(ceremony.id, 'c-1');

    conn.send('esign.signature', {
      ceremonyId: 'c-1',
      signer: 1,
      outcome: 'granted',
      decision: ALICE,
      assertion: 'A1',
    });
    await sleep(50);
    const seen: EsignSignature[] = [];
    ceremony.onSignature((sig) => seen.push(sig)); // registered late: still sees the first signature
    const sameSigner = {
      ...ALICE,
      outcome: 'refused' as const,
      reason: 'same_signer' as const,
      message: 'A second person must sign.',
    };
    conn.send('esign.signature', { ceremonyId: 'c-1', signer: 2, outcome: 'refused', decision: sameSigner });
    conn.send('esign.signature', {
      ceremonyId: 'c-other',
      signer: 2,
      outcome: 'granted',
      decision: ALICE,
      assertion: 'X',
    });
    const carol = { ...ALICE, user: { sAMAccountName: 'carol', displayName: 'Carol Clark' } };
    conn.send('esign.signature', {
      ceremonyId: 'c-1',
      signer: 2,
      outcome: 'granted',
      decision: carol,
      assertion: 'A2',
    });
    conn.send('esign.closed', { ceremonyId: 'c-1', state: 'completed', assertions: ['A1', 'A2'] });
    const closed = await ceremony.done;
    assert.deepEqual(closed, { ceremonyId: 'c-1', state: 'completed', assertions: ['A1', 'A2'] });
    assert.deepEqual(
      seen.map((x) => [x.signer, x.outcome, x.decision.reason ?? x.decision.user?.sAMAccountName]),
      [
        [1, 'granted', 'alice'],
        [2, 'refused', 'same_signer'],
        [2, 'granted', 'carol'],
      ],
      "another ceremony's signature is not mixed in",
    );
  });

  it('cancel() before and after opening sends esign.cancel with the ceremony id; done resolves cancelled', async () => {
    const s = await setup();
    await connected(s);
    const early = s.client.esign({ reason: 'Approve batch', secondSignerRequired: false });
    early.cancel();
    let open = await s.peer.next('esign.open');
    open.conn.send(
      'esign.opened',
      { ceremonyId: 'c-7', expiresAt: new Date().toISOString() },
      open.message.ref,
    );
    let cancel = await s.peer.next('esign.cancel');
    assert.deepEqual(cancel.message.data, { ceremonyId: 'c-7' });
    cancel.conn.send(
      'esign.closed',
      { ceremonyId: 'c-7', state: 'cancelled', assertions: [] },
      cancel.message.ref,
    );
    assert.equal((await early.done).state, 'cancelled');

    const late = s.client.esign({ reason: 'Approve batch', secondSignerRequired: false });
    open = await s.peer.next('esign.open');
    open.conn.send(
      'esign.opened',
      { ceremonyId: 'c-8', expiresAt: new Date().toISOString() },
      open.message.ref,
    );
    await late.opened;
    late.cancel();
    cancel = await s.peer.next('esign.cancel');
    assert.deepEqual(cancel.message.data, { ceremonyId: 'c-8' });
    cancel.conn.send('esign.closed', { ceremonyId: 'c-8', state: 'cancelled', assertions: [] });
    assert.equal((await late.done).state, 'cancelled');
  });

  it('a refusal to open, or a disconnect, rejects opened and done', async () => {
    const s = await setup();
    const offline = s.client.esign({ reason: 'x', secondSignerRequired: false });
    await assert.rejects(
      offline.done,
      (e: unknown) => e instanceof TapgateError && e.code === 'disconnected',
    );
    await connected(s);
    const refused = s.client.esign({ reason: 'x', secondSignerRequired: true });
    const open = await s.peer.next('esign.open');
    open.conn.send('error', { code: 'conflict', message: 'a ceremony is already open' }, open.message.ref);
    await assert.rejects(refused.opened, (e: unknown) => e instanceof TapgateError && e.code === 'conflict');
    await assert.rejects(refused.done, (e: unknown) => e instanceof TapgateError && e.code === 'conflict');

    const cut = s.client.esign({ reason: 'x', secondSignerRequired: true });
    const o2 = await s.peer.next('esign.open');
    o2.conn.send('esign.opened', { ceremonyId: 'c-3', expiresAt: new Date().toISOString() }, o2.message.ref);
    await cut.opened;
    s.peer.latest.socket.close(1001);
    await assert.rejects(cut.done, (e: unknown) => e instanceof TapgateError && e.code === 'disconnected');
  });
});

after(() => undefined);
