import { AssertionVerifier, generateSigningKeyFile } from '@tapgate/assertions';
import type { SoftwareBand } from '@tapgate/band';
import { PresenceChanged, presenceChangedSubject, type ServerMessage } from '@tapgate/contracts';
import { AgentClient } from '@tapgate/endpoint-node';
import { makeTestPki, waitFor } from '@tapgate/testing';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { RunningGateway } from './bootstrap';
import { RawClient, neaClient } from './testing/clients';
import { GatewayTestStack, endpointUrl, neaUrl, serveUserStatuses } from './testing/stack';

const VICTIM = 'LINE1-VICTIM';
const OTHER = 'LINE2-OTHER';
/** The endpoint connects from 127.0.0.1; attackers from other loopback addresses (Linux routes 127/8). */
const ATTACKER_ADDRESS = '127.0.0.2';
const SPOOFER_ADDRESS = '127.0.0.3';
const secret = () => randomBytes(32).toString('base64url');

type Port = 'agent' | 'webapi';
type Probe = 'login.request' | 'esign.open' | 'presence.subscribe' | 'tap delivery';
type Mode =
  | 'explicit, no credential'
  | 'explicit, wrong credential'
  | 'credential scoped to another terminal'
  | 'credential of a disabled application'
  | 'revoked credential'
  | 'implicit from another address'
  | 'implicit, spoofed X-Forwarded-For from an untrusted peer';

/** Frames that would hand an attacker something of the victim terminal. */
const LEAKS = new Set<ServerMessage['type']>([
  'tap',
  'presence',
  'login.result',
  'esign.signature',
  'esign.closed',
]);

describe('application (NEA) authorization, attacked from outside', () => {
  let stack: GatewayTestStack;
  let gw: RunningGateway;
  let gwB: RunningGateway;
  let ep: AgentClient;
  const bands: Record<string, SoftwareBand> = {};
  const dir = mkdtempSync(join(tmpdir(), 'tapgate-apps-'));
  const creds = {
    pomsnet: secret(),
    otherLine: secret(),
    disabled: secret(),
    revokedOld: secret(),
    revokedNew: secret(),
  };
  const tapBy = (who: string) =>
    ep.tap({
      kind: 'nfc',
      bandId: bands[who].bandId,
      sign: (c, t) => bands[who].answerTap({ challenge: c, terminalId: t }),
    });

  before(async () => {
    stack = await GatewayTestStack.start();
    serveUserStatuses(stack.admin, { alice: 'active', erin: 'active' });
    for (const u of ['alice', 'erin']) {
      bands[u] = await stack.enroll(u);
      bands[u].clasp();
      bands[u].authenticate();
    }
    await stack.addTerminal(VICTIM);
    await stack.addTerminal(OTHER);
    await stack.putApplication('pomsnet', { terminals: ['LINE1-*'], credentials: { k1: creds.pomsnet } });
    await stack.putApplication('other-line', { terminals: [OTHER], credentials: { k1: creds.otherLine } });
    await stack.putApplication('old-app', {
      terminals: ['*'],
      credentials: { k1: creds.disabled },
      enabled: false,
    });
    // Rotated: k1 was valid, then revoked, leaving k2.
    await stack.putApplication('rotated', {
      terminals: [VICTIM],
      credentials: { k1: creds.revokedOld, k2: creds.revokedNew },
    });
    await stack.putApplication('rotated', { terminals: [VICTIM], credentials: { k2: creds.revokedNew } });
    const key = join(dir, 'signing.pem');
    generateSigningKeyFile(key);
    const env = {
      TAPGATE_ASSERTIONS_SIGNING_KEY_FILES: key,
      // A proxy exists, but it is not the attacker: the attacker's X-Forwarded-For must be ignored.
      TAPGATE_GATEWAY_TRUSTED_PROXIES: '10.9.9.9/32',
    };
    gw = await stack.gateway(env);
    gwB = await stack.gateway(env);
    for (const g of [gw, gwB]) {
      await waitFor(async () => (await fetch(`http://127.0.0.1:${g.ports.http}/readyz`)).ok, {
        what: 'gateway ready',
      });
    }
    ep = new AgentClient({
      url: endpointUrl(gw),
      terminalId: VICTIM,
      credential: stack.terminals.get(VICTIM)!.credential,
    });
    ep.start();
    await waitFor(() => ep.connected, { what: 'victim endpoint connected' });
  });

  after(async () => {
    await ep?.stop();
    await stack?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  /** Opens the attacker's socket and sends hello and its probe back to back, as an attacker would. */
  async function attack(port: Port, probe: Probe, mode: Mode): Promise<RawClient | undefined> {
    const implicit = mode.startsWith('implicit');
    const credential: Partial<Record<Mode, string>> = {
      'explicit, wrong credential': secret(),
      'credential scoped to another terminal': creds.otherLine,
      'credential of a disabled application': creds.disabled,
      'revoked credential': creds.revokedOld,
    };
    let c: RawClient;
    try {
      c = await RawClient.open(neaUrl(gw, port), {
        localAddress: mode.includes('spoofed') ? SPOOFER_ADDRESS : ATTACKER_ADDRESS,
        headers: mode.includes('spoofed') ? { 'x-forwarded-for': '127.0.0.1' } : {},
      });
    } catch {
      return undefined; // refused before the upgrade: nothing leaked
    }
    c.send(
      'hello',
      { role: 'nea', ...(implicit ? {} : { terminalId: VICTIM }), credential: credential[mode] },
      'h',
    );
    if (probe === 'login.request') c.send('login.request', { audience: 'pomsnet' }, 'p');
    if (probe === 'esign.open') {
      c.send('esign.open', { reason: 'approve batch 42', secondSignerRequired: false }, 'p');
    }
    if (probe === 'presence.subscribe') c.send('presence.subscribe', undefined, 'p');
    // Pipelined probes may arrive before the hello is settled; send them again after it.
    await c.next('welcome', () => true, 1000).catch(() => undefined);
    if (!c.closed && probe === 'login.request') c.send('login.request', { audience: 'pomsnet' }, 'p2');
    if (!c.closed && probe === 'esign.open') {
      c.send('esign.open', { reason: 'approve batch 42', secondSignerRequired: false }, 'p2');
    }
    if (!c.closed && probe === 'presence.subscribe') c.send('presence.subscribe', undefined, 'p2');
    return c;
  }

  /** An attempt succeeded if it bound to the victim, or received anything of the victim's. */
  function accepted(c: RawClient | undefined): boolean {
    if (!c) return false;
    return c.frames.some(
      (f) =>
        LEAKS.has(f.type) ||
        (f.type === 'welcome' &&
          (f.data.binding?.terminalId === VICTIM || f.data.binding?.address === '127.0.0.1')),
    );
  }

  it('refuses every rogue binding on both ports, for every message and binding mode, while an authorized app works', async () => {
    // The authorized application: explicit binding with its credential, asking for a login.
    const app = await neaClient(neaUrl(gw), VICTIM, { credential: creds.pomsnet });
    app.send('login.request', { audience: 'pomsnet' }, 'L');
    const pending = await app.next('login.pending');

    const ports: Port[] = ['agent', 'webapi'];
    const probes: Probe[] = ['login.request', 'esign.open', 'presence.subscribe', 'tap delivery'];
    const modes: Mode[] = [
      'explicit, no credential',
      'explicit, wrong credential',
      'credential scoped to another terminal',
      'credential of a disabled application',
      'revoked credential',
      'implicit from another address',
      'implicit, spoofed X-Forwarded-For from an untrusted peer',
    ];
    const attempts: Array<{ port: Port; probe: Probe; mode: Mode; c: RawClient | undefined }> = [];
    for (const port of ports) {
      for (const probe of probes) {
        for (const mode of modes) attempts.push({ port, probe, mode, c: await attack(port, probe, mode) });
      }
    }
    // What the attackers are after: a worker's taps, presence and signatures at the victim terminal.
    stack.admin.publish(
      PresenceChanged,
      {
        v: 1,
        terminalId: VICTIM,
        after: { bandId: bands.alice.bandId, presence: 'yes', authenticated: true, terminals: [] },
        at: new Date().toISOString(),
      },
      presenceChangedSubject(VICTIM),
    );
    const first = await tapBy('alice');
    const second = await tapBy('erin');
    await new Promise((r) => setTimeout(r, 300));

    const leaked = attempts.filter((a) => accepted(a.c));
    const explicitRefusals = attempts.filter(
      (a) =>
        !a.mode.startsWith('implicit') &&
        a.c?.frames.some((f) => f.type === 'error' && f.data.code === 'unauthorized') &&
        a.c.closed?.code === 4001,
    );
    console.log(
      `rogue-binding attempts: ${attempts.length} (2 ports x 4 messages x 7 binding modes), accepted: ${leaked.length}`,
    );
    assert.deepEqual(
      leaked.map((a) => `${a.port} / ${a.probe} / ${a.mode}`),
      [],
    );
    assert.equal(first.decision.outcome, 'granted');
    assert.deepEqual(
      [first.deliveredTo, second.deliveredTo],
      [1, 1],
      'only the authorized application received the taps',
    );
    assert.equal(
      explicitRefusals.length,
      attempts.filter((a) => !a.mode.startsWith('implicit')).length,
      'every explicit attempt is refused with unauthorized and closed with 4001',
    );

    // The authorized application got alice's tap and a login assertion its server accepts.
    const tap = await app.next('tap', (m) => m.data.bandId === bands.alice.bandId);
    assert.equal(tap.data.decision.user?.sAMAccountName, 'alice');
    const result = await app.next('login.result', (m) => m.data.requestId === pending.data.requestId);
    assert.equal(result.data.outcome, 'granted');
    const claims = await new AssertionVerifier({
      jwksUrl: `http://127.0.0.1:${gw.ports.http}/.well-known/jwks.json`,
      audience: 'pomsnet',
      kind: 'login',
    }).verify(result.data.assertion!);
    assert.equal(claims.sub, 'alice');
    assert.equal(claims.tapgate.kind, 'login');
    for (const a of attempts) a.c?.close();
    app.close();
  });

  it('rotates a credential without dropping other applications or the new credential', async () => {
    const [k1, k2] = [secret(), secret()];
    await stack.putApplication('mes', { terminals: [VICTIM], credentials: { k1 } });
    await waitFor(async () => {
      const probe = await RawClient.open(neaUrl(gw));
      probe.send('hello', { role: 'nea', terminalId: VICTIM, credential: k1 }, 'h');
      const ok = await probe
        .next('welcome', () => true, 500)
        .then(
          () => true,
          () => false,
        );
      probe.close();
      return ok;
    });
    const onOld = await neaClient(neaUrl(gw), VICTIM, { credential: k1 });
    const otherApp = await neaClient(neaUrl(gwB), VICTIM, { credential: creds.pomsnet });
    await stack.putApplication('mes', { terminals: [VICTIM], credentials: { k1, k2 } });
    await waitFor(async () => {
      const probe = await RawClient.open(neaUrl(gwB));
      probe.send('hello', { role: 'nea', terminalId: VICTIM, credential: k2 }, 'h');
      const ok = await probe
        .next('welcome', () => true, 500)
        .then(
          () => true,
          () => false,
        );
      probe.close();
      return ok;
    });
    const onNew = await neaClient(neaUrl(gwB), VICTIM, { credential: k2 });
    // Revoke k1.
    await stack.putApplication('mes', { terminals: [VICTIM], credentials: { k2 } });
    const closed = await onOld.waitClosed(1000);
    assert.equal(closed.code, 4001);
    assert.match(
      onOld.frames.find((f) => f.type === 'error')?.data.message ?? '',
      /credential k1 of application mes was revoked/,
    );
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(onNew.closed, undefined, 'the same application on the new credential stays');
    assert.equal(otherApp.closed, undefined, 'other applications stay');
    const result = await tapBy('alice');
    assert.equal(result.deliveredTo, 2);
    await onNew.next('tap');
    await otherApp.next('tap');
    // The revoked credential no longer binds.
    const again = await RawClient.open(neaUrl(gw));
    again.send('hello', { role: 'nea', terminalId: VICTIM, credential: k1 }, 'h');
    assert.equal((await again.next('error')).data.code, 'unauthorized');
    assert.equal((await again.waitClosed()).code, 4001);
    onNew.close();
    otherApp.close();
  });

  it('closes the sockets of a disabled application on two replicas within 1 s', async () => {
    const k = secret();
    await stack.putApplication('line1-app', { terminals: ['LINE1-*', OTHER], credentials: { k } });
    const open = async (g: RunningGateway, terminal: string) =>
      waitFor(() => neaClient(neaUrl(g), terminal, { credential: k }).catch(() => undefined), {
        what: 'application socket',
      });
    const onA = await open(gw, VICTIM);
    const onB = await open(gwB, VICTIM);
    const onOther = await open(gwB, OTHER);
    // Narrowing the scope closes only the socket of the terminal left out.
    await stack.putApplication('line1-app', { terminals: ['LINE1-*'], credentials: { k } });
    assert.equal((await onOther.waitClosed(1000)).code, 4001);
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(onA.closed ?? onB.closed, undefined);

    const t0 = performance.now();
    await stack.putApplication('line1-app', { terminals: ['LINE1-*'], credentials: { k }, enabled: false });
    const [a, b] = await Promise.all([onA.waitClosed(1000), onB.waitClosed(1000)]);
    const ms = performance.now() - t0;
    console.log(`disable seen and sockets closed on 2 replicas in ${ms.toFixed(0)} ms`);
    assert.deepEqual([a.code, b.code], [4001, 4001]);
    assert.ok(ms < 1000);

    // Deleting an application closes its sockets too.
    await stack.putApplication('line1-app', { terminals: ['LINE1-*'], credentials: { k } });
    const again = await open(gwB, VICTIM);
    await stack.deleteApplication('line1-app');
    assert.equal((await again.waitClosed(1000)).code, 4001);
  });

  it('leaves no socket open when hellos race a disable (40 handshakes on two replicas)', async () => {
    const k = secret();
    await stack.putApplication('racer', { terminals: [VICTIM], credentials: { k } });
    await waitFor(
      async () => {
        const probe = await RawClient.open(neaUrl(gwB));
        probe.send('hello', { role: 'nea', terminalId: VICTIM, credential: k }, 'h');
        const ok = await probe
          .next('welcome', () => true, 500)
          .then(
            () => true,
            () => false,
          );
        probe.close();
        return ok;
      },
      { what: 'racer known to both replicas' },
    );
    const sockets = await Promise.all(
      Array.from({ length: 40 }, (_, i) => RawClient.open(neaUrl(i % 2 ? gw : gwB))),
    );
    // Hellos go out one every millisecond; the disable is written after the 15th, so some handshakes
    // complete before the gateways see it and some race it. None may survive it.
    let disabled: Promise<unknown> = Promise.resolve();
    for (const [n, c] of sockets.entries()) {
      c.send('hello', { role: 'nea', terminalId: VICTIM, credential: k }, 'h');
      if (n === 15) {
        disabled = stack.putApplication('racer', { terminals: [VICTIM], credentials: { k }, enabled: false });
      }
      await new Promise((r) => setTimeout(r, 1));
    }
    await disabled;
    const closes = await Promise.all(sockets.map((c) => c.waitClosed(2000)));
    const welcomed = sockets.filter((c) => c.frames.some((f) => f.type === 'welcome')).length;
    console.log(
      `hellos racing a disable: ${welcomed} of 40 welcomed before it, ${closes.filter((c) => c.code === 4001).length} of 40 closed with 4001`,
    );
    assert.deepEqual(
      closes.map((c) => c.code),
      Array.from({ length: 40 }, () => 4001),
    );
  });

  it('refuses a handshake without Origin when an Origin allow-list is set; endpoints are unaffected', async () => {
    const gwO = await stack.gateway({ TAPGATE_GATEWAY_ALLOWED_ORIGINS: 'https://mes.example.com' });
    await waitFor(async () => (await fetch(`http://127.0.0.1:${gwO.ports.http}/readyz`)).ok);
    for (const hello of [
      { role: 'nea' as const },
      { role: 'nea' as const, terminalId: VICTIM, credential: creds.pomsnet },
    ]) {
      const c = await RawClient.open(neaUrl(gwO));
      c.send('hello', hello, 'h');
      const err = await c.next('error');
      assert.equal(err.data.code, 'unauthorized');
      assert.match(err.data.message, /Origin/);
      assert.equal((await c.waitClosed()).code, 4001);
    }
    const ok = await neaClient(neaUrl(gwO), VICTIM, {
      credential: creds.pomsnet,
      origin: 'https://mes.example.com',
    });
    ok.close();
    const endpoint = new AgentClient({
      url: endpointUrl(gwO),
      terminalId: OTHER,
      credential: stack.terminals.get(OTHER)!.credential,
    });
    endpoint.start();
    await waitFor(() => endpoint.connected, { what: 'endpoint without Origin connected' });
    await endpoint.stop();
  });

  it('authenticates an application by its client certificate (CN app:<id>), within its scope only', async () => {
    const pki = await makeTestPki(join(dir, 'pki'));
    // A client certificate from the platform CA for application "mes-mtls", as an operator would issue it.
    const openssl = (...args: string[]) => execFileSync('openssl', args, { cwd: pki.dir, stdio: 'pipe' });
    const issue = (name: string, cn: string) => {
      openssl(
        'req',
        '-new',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:P-256',
        '-noenc',
        '-keyout',
        `${name}.key`,
        '-out',
        `${name}.csr`,
        '-subj',
        `/CN=${cn}`,
      );
      openssl(
        'x509',
        '-req',
        '-in',
        `${name}.csr`,
        '-CA',
        'ca.crt',
        '-CAkey',
        'ca.key',
        '-CAcreateserial',
        '-days',
        '1',
        '-extfile',
        'client.ext',
        '-out',
        `${name}.crt`,
      );
      return {
        cert: readFileSync(join(pki.dir, `${name}.crt`), 'utf8'),
        key: readFileSync(join(pki.dir, `${name}.key`), 'utf8'),
      };
    };
    const mes = issue('mes', 'app:mes-mtls');
    const ghost = issue('ghost', 'app:no-such-app');
    await stack.putApplication('mes-mtls', { terminals: [VICTIM], credentials: {} });
    const gwT = await stack.gateway({
      TAPGATE_AGENT_PROTOCOL: 'wss',
      TAPGATE_AGENT_CACERTFILE: pki.ca.certFile,
      TAPGATE_AGENT_CERTFILE: pki.server.certFile,
      TAPGATE_AGENT_KEYFILE: pki.server.keyFile,
      TAPGATE_GATEWAY_ENDPOINT_MTLS: 'true',
    });
    const hello = async (client: { cert: string; key: string }, terminalId: string) => {
      const c = await RawClient.open(neaUrl(gwT, 'agent', 'wss'), { ca: pki.ca.cert, ...client });
      c.send('hello', { role: 'nea', terminalId }, 'h');
      await Promise.race([c.next('welcome').catch(() => undefined), c.waitClosed().catch(() => undefined)]);
      return c;
    };
    const ok = await hello(mes, VICTIM);
    assert.equal((await ok.next('welcome')).data.binding?.terminalId, VICTIM);
    for (const c of [await hello(mes, OTHER), await hello(ghost, VICTIM)]) {
      assert.equal((await c.waitClosed()).code, 4001);
      assert.equal(c.frames.find((f) => f.type === 'error')?.data.code, 'unauthorized');
    }
    // Disabling the application closes its certificate-authenticated socket as well.
    await stack.putApplication('mes-mtls', { terminals: [VICTIM], credentials: {}, enabled: false });
    assert.equal((await ok.waitClosed(1000)).code, 4001);
  });
});
