import { AssertionVerifier } from '@tapgate/assertions';
import { AuditTrail } from '@tapgate/audit';
import { SoftwareBand } from '@tapgate/band';
import { PresenceGet, type TapResult } from '@tapgate/contracts';
import { AgentClient } from '@tapgate/endpoint-node';
import { Messaging } from '@tapgate/messaging';
import { TapgateClient, type TapEvent } from '@tapgate/nea-client';
import {
  Platform,
  freePort,
  preparePreviousRelease,
  previousReleaseUnavailable,
  startServiceProcess,
  waitFor,
  type PreviousRelease,
  type ServiceProcess,
} from '@tapgate/testing';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { applicationCredential, enrollBand } from './harness';

// A rolling upgrade's mixed window: the previous release's ws-gateway (built from git history by
// libs/testing previous-release) and the current one on one NATS and Redis, with the current policy,
// user-status and presence. Not in `npm test` (the first build of the previous release takes a minute or
// more); run it with `node scripts/run-tests.mjs tests/e2e/dist/mixed-version.cluster-test.js`.

const PREVIOUS_GATEWAY_ID = 'gw-previous';
const TAPS_AFTER_RECONNECT = 5;

/**
 * A TCP forwarder standing for a Kubernetes Service: clients connect to it, and it forwards each new
 * connection to whichever gateway port it points at now. Pointing it elsewhere leaves open connections
 * alone; they end when their gateway stops, and the clients' reconnects land on the new target.
 */
class Forwarder {
  private readonly sockets = new Set<Socket>();
  private constructor(
    private readonly server: Server,
    readonly port: number,
    public target: number,
  ) {}

  static async start(target: number): Promise<Forwarder> {
    const port = await freePort();
    const server = createServer();
    const f = new Forwarder(server, port, target);
    server.on('connection', (client) => {
      const upstream = connect(f.target, '127.0.0.1');
      for (const [a, b] of [
        [client, upstream],
        [upstream, client],
      ]) {
        f.sockets.add(a);
        a.pipe(b);
        a.on('error', () => b.destroy());
        a.on('close', () => {
          f.sockets.delete(a);
          b.destroy();
        });
      }
    });
    await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
    return f;
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise((r) => this.server.close(r));
  }
}

interface GatewayPorts {
  agent: number;
  webapi: number;
  http: number;
}

/** Every tap's outcome, for the figures and for "no false grant". */
interface Tally {
  taps: number;
  granted: number;
  refusals: Record<string, number>;
}

describe(
  'mixed-version window: the previous release gateway next to the current one',
  { skip: previousReleaseUnavailable() },
  () => {
    const dir = mkdtempSync(join(tmpdir(), 'tapgate-mixed-'));
    let previous: PreviousRelease;
    let platform: Platform;
    let previousGateway: ServiceProcess | undefined;
    let previousPorts: GatewayPorts;
    let currentPorts: GatewayPorts;
    let messaging: Messaging;
    let advertising: NodeJS.Timeout | undefined;
    const tally: Tally = { taps: 0, granted: 0, refusals: {} };
    const bands: Record<'alice' | 'bob' | 'erin', SoftwareBand> = {} as never;
    const stranger = SoftwareBand.generate(); // never enrolled
    // Two terminals: A's endpoint on the previous gateway and its NEA on the current one; B the reverse.
    // Each client connects through a forwarder (its "Service"), first pointing at its gateway.
    const fwd: Record<'aEndpoint' | 'aNea' | 'bEndpoint' | 'bNea', Forwarder> = {} as never;
    const endpoints: Record<'A' | 'B', AgentClient> = {} as never;
    const neas: Record<'A' | 'B', TapgateClient> = {} as never;
    const neaTaps: Record<'A' | 'B', TapEvent[]> = { A: [], B: [] };
    const endpointWelcomes: Record<'A' | 'B', Array<{ protocolMinor?: number }>> = { A: [], B: [] };
    const neaWelcomes: Record<'A' | 'B', number[]> = { A: [], B: [] };

    const startPreviousGateway = async () => {
      previousGateway = await startServiceProcess({
        name: 'ws-gateway-previous',
        script: previous.gatewayScript,
        logFile: join(dir, 'logs', 'ws-gateway-previous.log'),
        env: {
          TAPGATE_CONFIG: join(dir, 'nymi_agent.toml'),
          TAPGATE_HTTP_HOST: '127.0.0.1',
          TAPGATE_HTTP_PORT: String(previousPorts.http),
          TAPGATE_AGENT_PORT: String(previousPorts.agent),
          TAPGATE_WEBAPI_PORT: String(previousPorts.webapi),
          TAPGATE_GATEWAY_GATEWAY_ID: PREVIOUS_GATEWAY_ID,
        },
        readyUrl: `http://127.0.0.1:${previousPorts.http}/readyz`,
        timeoutMs: 60_000,
      });
    };

    /** One tap on `terminal` by `band`, counted; the endpoint's result. */
    const tapOn = async (terminal: 'A' | 'B', band: SoftwareBand): Promise<TapResult> => {
      const result = await endpoints[terminal].tap({
        kind: 'nfc',
        bandId: band.bandId,
        sign: (c, t) => band.answerTap({ challenge: c, terminalId: t }),
      });
      tally.taps += 1;
      if (result.decision.outcome === 'granted') tally.granted += 1;
      else {
        const reason = result.decision.reason ?? 'none';
        tally.refusals[reason] = (tally.refusals[reason] ?? 0) + 1;
      }
      return result;
    };

    /** The NEA of `terminal` got this tap, with the endpoint's decision. */
    const neaGot = (terminal: 'A' | 'B', result: TapResult) =>
      waitFor(() => neaTaps[terminal].find((t) => t.tapId === result.tapId), {
        what: `NEA of ${terminal} received tap ${result.tapId}`,
      }).then((t) => assert.deepEqual(t.decision, result.decision));

    const nextLoginPending = (terminal: 'A' | 'B') =>
      new Promise<void>((resolve) => {
        const off = neas[terminal].on('login.pending', () => {
          off();
          resolve();
        });
      });

    before(async () => {
      previous = preparePreviousRelease();
      platform = await Platform.start({
        dir,
        users: [
          { sAMAccountName: 'alice', displayName: 'Alice Able', state: 'active' },
          { sAMAccountName: 'bob', displayName: 'Bob Blocked', state: 'disabled' },
          { sAMAccountName: 'erin', displayName: 'Erin Second', state: 'active' },
        ],
        logLevel: 'warn',
      });
      currentPorts = {
        agent: platform.ports.agent,
        webapi: platform.ports.webapi,
        http: platform.ports.gatewayHttp,
      };
      previousPorts = { agent: await freePort(), webapi: await freePort(), http: await freePort() };
      await startPreviousGateway();
      messaging = new Messaging({ servers: [platform.nats.url], name: 'mixed-version-test' });
      for (const user of ['alice', 'bob', 'erin'] as const) bands[user] = await enrollBand(platform, user);
      stranger.clasp();
      stranger.authenticate();

      fwd.aEndpoint = await Forwarder.start(previousPorts.agent);
      fwd.aNea = await Forwarder.start(currentPorts.webapi);
      fwd.bEndpoint = await Forwarder.start(currentPorts.agent);
      fwd.bNea = await Forwarder.start(previousPorts.webapi);
      const credential = await applicationCredential(platform);
      for (const [terminal, endpointFwd, neaFwd] of [
        ['A', fwd.aEndpoint, fwd.aNea],
        ['B', fwd.bEndpoint, fwd.bNea],
      ] as const) {
        const t = await platform.api<{ credential: string }>('POST', '/v1/terminals', {
          terminalId: `T-MIXED-${terminal}`,
        });
        const ep = new AgentClient({
          url: `ws://127.0.0.1:${endpointFwd.port}/socket/websocket`,
          terminalId: `T-MIXED-${terminal}`,
          credential: t.credential,
        });
        ep.on('connected', (w: { protocolMinor?: number }) => endpointWelcomes[terminal].push(w));
        ep.start();
        endpoints[terminal] = ep;
        const nea = new TapgateClient({
          host: '127.0.0.1',
          port: neaFwd.port,
          protocol: 'ws',
          terminal: `T-MIXED-${terminal}`,
          credential,
          app: { name: 'mixed-version-test', version: '1' },
          reconnect: { initialDelayMs: 50, maxDelayMs: 500 },
        });
        nea.on('tap', (t) => neaTaps[terminal].push(t));
        nea.on('connected', (c) => neaWelcomes[terminal].push(c.protocolMinor));
        nea.connect();
        neas[terminal] = nea;
      }
      await waitFor(() => Object.values(endpoints).every((e) => e.connected), {
        timeoutMs: 20_000,
        what: 'endpoints connected',
      });
      await waitFor(() => Object.values(neas).every((n) => n.connected), {
        timeoutMs: 20_000,
        what: 'NEA clients connected',
      });
      // The enrolled bands are worn near both terminals: each endpoint relays their adverts to presence
      // (through its gateway, of either version), as a real endpoint's BLE scanner would.
      advertising = setInterval(() => {
        for (const ep of Object.values(endpoints)) {
          ep.adverts(Object.values(bands).map((b) => b.advert(-60)));
        }
      }, 1000);
      for (const band of Object.values(bands)) {
        await waitFor(
          async () => {
            const answer = await messaging.request(PresenceGet, { v: 1, bandId: band.bandId });
            return answer.band?.authenticated === true;
          },
          { timeoutMs: 20_000, what: `presence knows ${band.bandId} authenticated` },
        );
      }
    });

    after(async () => {
      console.log(
        `mixed-version figures: ${JSON.stringify({
          previousRelease: previous?.commit,
          buildMsFirstRun: previous?.buildMs,
          preparedMsThisRun: previous?.preparedMs,
          cached: previous?.cached,
          ...tally,
        })}`,
      );
      clearInterval(advertising);
      for (const n of Object.values(neas)) n.close();
      for (const e of Object.values(endpoints)) await e.stop().catch(() => undefined);
      for (const f of Object.values(fwd)) await f.close();
      await messaging?.close();
      await previousGateway?.stop().catch(() => undefined);
      await platform?.stop();
      rmSync(dir, { recursive: true, force: true });
    });

    it('each client reads the protocol minor of the gateway it is on (previous: absent, i.e. 0)', () => {
      assert.equal(
        endpointWelcomes.A.at(-1)?.protocolMinor,
        undefined,
        'A: endpoint on the previous gateway',
      );
      assert.equal(endpointWelcomes.B.at(-1)?.protocolMinor, 1, 'B: endpoint on the current gateway');
      assert.deepEqual(neaWelcomes, { A: [1], B: [0] });
    });

    it('grants and refuses across versions, both ways: no false grant', async () => {
      for (const terminal of ['A', 'B'] as const) {
        const granted = await tapOn(terminal, bands.alice);
        assert.equal(granted.decision.outcome, 'granted', `${terminal}: ${JSON.stringify(granted.decision)}`);
        assert.equal(granted.deliveredTo, 1, `${terminal}: delivered across gateways`);
        await neaGot(terminal, granted);

        const disabled = await tapOn(terminal, bands.bob);
        assert.equal(disabled.decision.outcome, 'refused');
        assert.equal(disabled.decision.reason, 'user_not_active');
        await neaGot(terminal, disabled);

        const unknown = await tapOn(terminal, stranger);
        assert.equal(unknown.decision.outcome, 'refused');
        await neaGot(terminal, unknown);
      }
    });

    it('signs in and runs a two-person e-signature across versions, with assertions that verify', async () => {
      const loginVerifier = new AssertionVerifier({
        jwksUrl: platform.jwksUrl,
        audience: 'pomsnet',
        kind: 'login',
      });
      const esignVerifier = new AssertionVerifier({
        jwksUrl: `http://127.0.0.1:${previousPorts.http}/.well-known/jwks.json`,
        audience: 'pomsnet',
        kind: 'esign',
      });
      for (const terminal of ['A', 'B'] as const) {
        // Each login is pending at the gateway (login.pending) before the tap that answers it.
        let pending = nextLoginPending(terminal);
        const refusedLogin = neas[terminal].login({ audience: 'pomsnet' });
        await pending;
        await tapOn(terminal, bands.bob);
        const refused = await refusedLogin;
        assert.equal(refused.outcome, 'refused');
        assert.equal(refused.assertion, undefined);

        pending = nextLoginPending(terminal);
        const login = neas[terminal].login({ audience: 'pomsnet' });
        await pending;
        await tapOn(terminal, bands.alice);
        const result = await login;
        assert.equal(result.outcome, 'granted', JSON.stringify(result));
        const claims = await loginVerifier.verify(result.assertion!);
        assert.equal(claims.sub, 'alice');
        assert.equal(claims.tapgate.terminalId, `T-MIXED-${terminal}`);

        const ceremony = neas[terminal].esign({
          reason: 'Release batch',
          secondSignerRequired: true,
          audience: 'pomsnet',
        });
        await ceremony.opened;
        await tapOn(terminal, bands.alice);
        await tapOn(terminal, bands.erin);
        const closed = await ceremony.done;
        assert.equal(closed.state, 'completed');
        assert.equal(closed.assertions.length, 2);
        const [first, second] = await Promise.all(closed.assertions.map((a) => esignVerifier.verify(a)));
        assert.deepEqual([first.sub, second.sub], ['alice', 'erin']);
        assert.equal(second.tapgate.firstSignature, first.jti);
      }
    });

    it('the audit chain verifies with records written by both gateways', async () => {
      const trail = new AuditTrail(messaging);
      const writers = await waitFor(
        async () => {
          const exported = await trail.exportRange({
            from: new Date(Date.now() - 600_000),
            to: new Date(Date.now() + 1000),
            format: 'json',
          });
          const gateways = new Set(
            (JSON.parse(exported.body) as Array<{ record: { gateway: string } }>).map(
              (e) => e.record.gateway,
            ),
          );
          return gateways.size >= 2 ? gateways : undefined;
        },
        { what: 'audit records from both gateways' },
      );
      assert.ok(writers.has(PREVIOUS_GATEWAY_ID), [...writers].join(', '));
      const report = await trail.verifyChain();
      assert.equal(report.ok, true, JSON.stringify(report));
    });

    type Client = 'endpoint A' | 'endpoint B' | 'NEA A' | 'NEA B';
    const welcomes = (): Record<Client, number> => ({
      'endpoint A': endpointWelcomes.A.length,
      'endpoint B': endpointWelcomes.B.length,
      'NEA A': neaWelcomes.A.length,
      'NEA B': neaWelcomes.B.length,
    });
    /** `moved` got a new welcome (a fresh socket) and every client is connected; then no tap is lost. */
    const tapsArriveAfterReconnect = async (before: Record<Client, number>, moved: Client[]) => {
      await waitFor(
        () =>
          moved.every((c) => welcomes()[c] > before[c]) &&
          Object.values(endpoints).every((e) => e.connected) &&
          Object.values(neas).every((n) => n.connected),
        { timeoutMs: 60_000, what: `${moved.join(', ')} reconnected` },
      );
      for (let i = 0; i < TAPS_AFTER_RECONNECT; i++) {
        for (const terminal of ['A', 'B'] as const) {
          const r = await tapOn(terminal, bands.alice);
          assert.equal(r.decision.outcome, 'granted', `${terminal} #${i}: ${JSON.stringify(r.decision)}`);
          assert.equal(r.deliveredTo, 1, `${terminal} #${i}`);
          await neaGot(terminal, r);
        }
      }
    };

    it('the previous gateway stops: its clients reconnect to the current one and no tap is lost', async () => {
      const before = welcomes();
      fwd.aEndpoint.target = currentPorts.agent;
      fwd.bNea.target = currentPorts.webapi;
      await previousGateway!.stop();
      previousGateway = undefined;
      await tapsArriveAfterReconnect(before, ['endpoint A', 'NEA B']);
      assert.equal(endpointWelcomes.A.at(-1)?.protocolMinor, 1);
      assert.equal(neaWelcomes.B.at(-1), 1);
    });

    it('and the reverse: the current gateway stops, every client reconnects to the previous one, no tap lost', async () => {
      await startPreviousGateway();
      const before = welcomes();
      for (const f of [fwd.aEndpoint, fwd.bEndpoint]) f.target = previousPorts.agent;
      for (const f of [fwd.aNea, fwd.bNea]) f.target = previousPorts.webapi;
      await platform.process('ws-gateway').stop();
      await tapsArriveAfterReconnect(before, ['endpoint A', 'endpoint B', 'NEA A', 'NEA B']);
      assert.deepEqual(
        [endpointWelcomes.A.at(-1)?.protocolMinor, endpointWelcomes.B.at(-1)?.protocolMinor],
        [undefined, undefined],
      );
      assert.deepEqual([neaWelcomes.A.at(-1), neaWelcomes.B.at(-1)], [0, 0]);
      const report = await new AuditTrail(messaging).verifyChain();
      assert.equal(report.ok, true, JSON.stringify(report));
      assert.equal(tally.refusals.user_not_active, 4, JSON.stringify(tally));
      const refusedBands = new Set([bands.bob.bandId, stranger.bandId]);
      const falseGrants = [...neaTaps.A, ...neaTaps.B].filter(
        (t) => refusedBands.has(t.bandId ?? '') && t.decision.outcome !== 'refused',
      );
      assert.deepEqual(falseGrants, [], 'no NEA was handed a grant for bob or an unknown band');
      assert.equal(
        tally.granted,
        2 + 2 * 3 + 2 * 2 * TAPS_AFTER_RECONNECT,
        `grants: alice's and erin's taps only (${JSON.stringify(tally)})`,
      );
    });
  },
);
