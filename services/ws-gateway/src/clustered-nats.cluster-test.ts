import { generateSigningKeyFile } from '@tapgate/assertions';
import { AuditTrail } from '@tapgate/audit';
import type { SoftwareBand } from '@tapgate/band';
import { AUDIT_STREAM, KvBuckets } from '@tapgate/contracts';
import { AgentClient } from '@tapgate/endpoint-node';
import { HostNetwork, NatsCluster, hostsUnavailable, sleep, waitFor, type NatsNode } from '@tapgate/testing';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { RunningGateway } from './bootstrap';
import { neaClient, type RawClient } from './testing/clients';
import { GatewayTestStack, endpointUrl, neaUrl, serveUserStatuses } from './testing/stack';

// Three NATS nodes, each on its own host (a network namespace: libs/testing HostNetwork), JetStream at
// three replicas for every asset. The gateways run in this test process (outside the hosts), so killing
// a host here takes one NATS node with it, not a gateway.
const TERMINALS = 4;
const PAUSE_MS = 100;
const LOAD_BEFORE_MS = 4_000;
const LOAD_AFTER_GRANTED_MS = 4_000;
const RECOVERY_LIMIT_MS = 45_000;
const ATTEMPT_LIMIT_MS = 10_000;

interface Attempt {
  terminal: string;
  user: 'alice' | 'bob';
  startedAt: number;
  outcome: 'granted' | 'refused' | 'no_result';
  reason: string;
  assertionId?: string;
}

/** Rejects after `ms`: one attempt must not hold its terminal's loop (and so the test) forever. */
function within<T>(ms: number, p: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}

/** The assertion's `jti` and `sub` (the payload of a JWS, not verified here: the ceremony tests verify). */
function claims(jws: string): { jti: string; sub: string } {
  return JSON.parse(Buffer.from(jws.split('.')[1], 'base64url').toString()) as { jti: string; sub: string };
}

describe(
  'a 3-node NATS cluster on three hosts, replicas 3: losing a JetStream leader host under tap load',
  { skip: hostsUnavailable() },
  () => {
    let net: HostNetwork;
    let cluster: NatsCluster;
    let stack: GatewayTestStack;
    let gateways: RunningGateway[] = [];
    const endpoints: AgentClient[] = [];
    const bands: Record<string, SoftwareBand> = {};
    const dir = mkdtempSync(join(tmpdir(), 'tapgate-cluster-'));

    before(async () => {
      net = HostNetwork.create(3);
      cluster = await NatsCluster.start(net.hosts);
      stack = await GatewayTestStack.start({ servers: cluster.servers, replicas: 3 });
      serveUserStatuses(stack.admin, { alice: 'active', bob: 'disabled' });
      for (const u of ['alice', 'bob']) {
        bands[u] = await stack.enroll(u);
        bands[u].clasp();
        bands[u].authenticate();
      }
      const key = join(dir, 'signing.pem');
      generateSigningKeyFile(key);
      gateways = await Promise.all(
        [0, 1].map(() => stack.gateway({ TAPGATE_ASSERTIONS_SIGNING_KEY_FILES: key })),
      );
      for (const gw of gateways) {
        await waitFor(
          async () =>
            (
              (await (await fetch(`http://127.0.0.1:${gw.ports.http}/readyz`)).json()) as {
                ceremonies?: boolean;
              }
            ).ceremonies,
          { timeoutMs: 20_000, what: 'gateway ceremonies ready' },
        );
      }
      for (let i = 0; i < TERMINALS; i++) {
        const t = await stack.addTerminal(`T-C${i}`);
        const ep = new AgentClient({
          url: endpointUrl(gateways[i % 2]),
          terminalId: t.terminalId,
          credential: t.credential,
        });
        ep.start();
        endpoints.push(ep);
      }
      await waitFor(() => endpoints.every((e) => e.connected), {
        timeoutMs: 20_000,
        what: 'endpoints connected',
      });
    });

    after(async () => {
      for (const e of endpoints) await e.stop().catch(() => undefined);
      await stack?.stop().catch(() => undefined);
      await cluster?.dispose();
      await net?.dispose();
      rmSync(dir, { recursive: true, force: true });
    });

    it('grants only alice, never bob, while the host of the audit stream leader dies; the chain has every grant', async () => {
      const attempts: Attempt[] = [];
      let stopAt = Infinity;
      let killedAt = Infinity;

      // One login ceremony after another on each terminal: the NEA client on the other gateway than the
      // endpoint, so each grant crosses NATS (delivery, tap claim, audit append, assertion).
      const drive = async (i: number) => {
        const terminal = `T-C${i}`;
        const ep = endpoints[i];
        let nea: RawClient | undefined;
        for (let n = 0; Date.now() < stopAt; n++) {
          const user = n % 2 === 0 ? 'alice' : 'bob';
          const attempt: Attempt = {
            terminal,
            user,
            startedAt: Date.now(),
            outcome: 'no_result',
            reason: '',
          };
          try {
            nea ??= await within(ATTEMPT_LIMIT_MS, neaClient(neaUrl(gateways[(i + 1) % 2]), terminal));
            const ref = `L${i}-${n}`;
            const from = nea.frames.length;
            nea.send('login.request', { audience: 'pomsnet' }, ref);
            const pending = await nea.next('login.pending', (m) => m.ref === ref, 5000, from);
            await within(
              ATTEMPT_LIMIT_MS,
              ep.tap({
                kind: 'nfc',
                bandId: bands[user].bandId,
                sign: (c, t) => bands[user].answerTap({ challenge: c, terminalId: t }),
              }),
            );
            const result = await nea.next(
              'login.result',
              (m) => m.data.requestId === pending.data.requestId,
              8000,
              from,
            );
            attempt.outcome = result.data.outcome === 'granted' ? 'granted' : 'refused';
            attempt.reason = result.data.decision?.reason ?? result.data.outcome;
            if (result.data.assertion) {
              const c = claims(result.data.assertion);
              assert.equal(c.sub, user, 'the assertion names the user who tapped');
              attempt.assertionId = c.jti;
            }
          } catch (e) {
            attempt.reason = (e as Error).message.slice(0, 80);
            // A login request left open would hold the next one: start again on a fresh NEA socket.
            nea?.close();
            nea = undefined;
          }
          attempts.push(attempt);
          await sleep(PAUSE_MS);
        }
        nea?.close();
      };

      const load = Promise.all(Array.from({ length: TERMINALS }, (_, i) => drive(i)));
      await sleep(LOAD_BEFORE_MS);
      const jsm = await (await stack.admin.connection()).jetstreamManager();
      const auditLeader = (await jsm.streams.info(AUDIT_STREAM)).cluster?.leader;
      assert.ok(auditLeader, 'the audit stream has a leader');
      const victim: NatsNode = cluster.node(auditLeader);
      const meta = await cluster.metaLeader();
      const roles = [`${AUDIT_STREAM} leader`];
      if (meta?.name === victim.name) roles.push('JetStream meta leader');
      for (const b of [KvBuckets.tapClaims, KvBuckets.openCeremonies, KvBuckets.enrollments]) {
        if ((await jsm.streams.info(`KV_${b}`)).cluster?.leader === victim.name) roles.push(`KV_${b} leader`);
      }
      killedAt = Date.now();
      await victim.host.killAll();

      // Load goes on until every terminal has granted alice again, and a while longer.
      const grantedAgain = await waitFor(
        () => {
          const firsts = Array.from({ length: TERMINALS }, (_, i) =>
            attempts.find(
              (a) => a.terminal === `T-C${i}` && a.startedAt > killedAt && a.outcome === 'granted',
            ),
          );
          return firsts.every(Boolean) ? firsts.map((a) => a!.startedAt) : undefined;
        },
        {
          timeoutMs: RECOVERY_LIMIT_MS,
          intervalMs: 100,
          what: 'every terminal granted again after the kill',
        },
      ).catch(async (e: unknown) => {
        stopAt = 0;
        await load;
        const after = attempts
          .filter((x) => x.startedAt > killedAt)
          .map((x) => `${x.user}:${x.outcome}:${x.reason}`);
        throw new Error(`${(e as Error).message}; after the kill: ${after.slice(-12).join(' | ')}`);
      });
      stopAt = Date.now() + LOAD_AFTER_GRANTED_MS;
      await load;

      // No false grant: bob (disabled) never; every grant carries an assertion.
      const falseGrants = attempts.filter(
        (a) => a.outcome === 'granted' && (a.user !== 'alice' || !a.assertionId),
      );
      assert.deepEqual(falseGrants, [], 'false grants');
      for (const a of attempts.filter((x) => x.user === 'bob' && x.outcome === 'refused')) {
        assert.ok(a.reason.length > 0, 'a refusal says why');
      }
      const beforeKill = attempts.filter((a) => a.startedAt < killedAt - 1000);
      // The tap-claim bucket is created by the first tap (two gateways racing to create an R3 stream):
      // until it exists, claims fail and taps are refused (internal_error, fail closed). Counted apart.
      const firstGrant = (t: string) =>
        attempts.find((a) => a.terminal === t && a.outcome === 'granted')?.startedAt ?? Infinity;
      const coldStart = beforeKill.filter(
        (a) => a.startedAt < firstGrant(a.terminal) && a.outcome !== 'granted',
      );
      const notGrantedBefore = beforeKill.filter(
        (a) => a.user === 'alice' && a.startedAt > firstGrant(a.terminal) && a.outcome !== 'granted',
      );
      assert.deepEqual(notGrantedBefore, [], 'alice granted throughout before the event, once warm');

      // Every grant is in the audit trail (by its assertion id), and the chain verifies.
      const trail = new AuditTrail(stack.admin);
      const grants = attempts.filter((a) => a.outcome === 'granted');
      const audited = await waitFor(
        async () => {
          const exported = await trail.exportRange({
            from: new Date(Date.now() - 600_000),
            to: new Date(),
            format: 'json',
          });
          const ids = new Set(
            (
              JSON.parse(exported.body) as Array<{
                record: { kind: string; outcome: string; assertionId?: string };
              }>
            )
              .filter(({ record: r }) => r.kind === 'login' && r.outcome === 'granted')
              .map(({ record: r }) => r.assertionId),
          );
          return grants.every((g) => ids.has(g.assertionId)) ? ids : undefined;
        },
        { timeoutMs: 30_000, intervalMs: 500, what: 'every granted login in the audit trail' },
      );
      const report = await trail.verifyChain();
      assert.equal(report.ok, true, JSON.stringify(report));

      const during = attempts.filter(
        (a) => a.startedAt >= killedAt && a.startedAt <= Math.max(...grantedAgain),
      );
      const refusedAlice = during.filter((a) => a.user === 'alice' && a.outcome !== 'granted');
      const why = new Map<string, number>();
      for (const a of refusedAlice) why.set(a.reason, (why.get(a.reason) ?? 0) + 1);
      const lines = [
        `clustered NATS: killed host of ${victim.name} (${roles.join(', ')}) at +${LOAD_BEFORE_MS} ms of load`,
        `  cold start: ${coldStart.filter((a) => a.user === 'alice').length} alice taps refused before the first grant (${[...new Set(coldStart.map((a) => a.reason))].join(', ') || '-'})`,
        `  attempts ${attempts.length} (${grants.length} granted, ${attempts.filter((a) => a.user === 'bob').length} by bob, none granted); false grants 0`,
        `  alice taps not granted during the event: ${refusedAlice.length} of ${during.filter((a) => a.user === 'alice').length}` +
          (why.size ? ` (${[...why].map(([r, c]) => `${c}x ${r}`).join('; ')})` : ''),
        `  time until granted again: first terminal ${Math.min(...grantedAgain) - killedAt} ms, every terminal ${Math.max(...grantedAgain) - killedAt} ms (tap start after the kill)`,
        `  audit: ${audited.size} granted logins recorded; each of the ${grants.length} the NEA saw granted is among them; chain verified (${report.ok ? report.checked : 0} records)`,
      ];
      console.log(lines.join('\n'));
    });

    it('created every Tapgate JetStream asset with 3 replicas', async () => {
      const jsm = await (await stack.admin.connection()).jetstreamManager();
      const names: string[] = [];
      for await (const s of jsm.streams.list()) {
        names.push(s.config.name);
        assert.equal(s.config.num_replicas, 3, `${s.config.name} replicas`);
      }
      for (const bucket of [
        KvBuckets.enrollments,
        KvBuckets.terminals,
        KvBuckets.tapClaims,
        KvBuckets.openCeremonies,
      ]) {
        assert.ok(names.includes(`KV_${bucket}`), `KV_${bucket} among ${names.join(', ')}`);
      }
      assert.ok(names.includes(AUDIT_STREAM), `${AUDIT_STREAM} among ${names.join(', ')}`);
    });
  },
);
