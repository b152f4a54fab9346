import { generateSigningKeyFile } from '@tapgate/assertions';
import { AuditTrail } from '@tapgate/audit';
import type { SoftwareBand } from '@tapgate/band';
import type { AuditRecord } from '@tapgate/contracts';
import { waitFor } from '@tapgate/testing';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { RunningGateway } from './bootstrap';
import { endpointClient, neaClient, takeChallenges, type RawClient } from './testing/clients';
import {
  GatewayTestStack,
  endpointUrl,
  neaUrl,
  serveUserStatuses,
  storedAuditRecords as stored,
} from './testing/stack';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const CLOSINGS = new Set(['completed', 'expired', 'cancelled', 'abandoned']);

async function ready(http: number): Promise<void> {
  await waitFor(
    async () => {
      const r = await fetch(`http://127.0.0.1:${http}/readyz`);
      return r.ok && ((await r.json()) as { ceremonies: boolean }).ceremonies;
    },
    { timeoutMs: 30_000, what: `gateway :${http} ready for ceremonies` },
  );
}

/** Sends one signed tap on a raw endpoint socket; resolves with its tap.result (or undefined). */
async function tapOnce(ep: RawClient, band: SoftwareBand, terminalId: string, waitMs = 10_000) {
  const [challenge] = await takeChallenges(ep, 1);
  const tapId = randomUUID();
  const ref = `t-${tapId}`;
  const proof = band.answerTap({ challenge, terminalId })!;
  ep.send('tap', { tapId, kind: 'nfc', bandId: band.bandId, proof, at: new Date().toISOString() }, ref);
  const result = await ep.next('tap.result', (m) => m.ref === ref, waitMs).catch(() => undefined);
  return { tapId, result };
}

describe('ceremony outcomes in the audit trail under faults (real NATS, gateway processes)', () => {
  let stack: GatewayTestStack;
  let gw: RunningGateway;
  let trail: AuditTrail;
  let alice: SoftwareBand;
  let erin: SoftwareBand;
  const dir = mkdtempSync(join(tmpdir(), 'tapgate-faults-'));
  const key = join(dir, 'signing.pem');
  const env: Record<string, string> = {};

  before(async () => {
    stack = await GatewayTestStack.start();
    serveUserStatuses(stack.admin, { alice: 'active', erin: 'active' });
    alice = await stack.enroll('alice');
    erin = await stack.enroll('erin');
    for (const b of [alice, erin]) {
      b.clasp();
      b.authenticate();
    }
    generateSigningKeyFile(key);
    Object.assign(env, {
      TAPGATE_ASSERTIONS_SIGNING_KEY_FILES: key,
      TAPGATE_GATEWAY_ESIGN_TIMEOUT_MS: '4000',
      TAPGATE_GATEWAY_TAP_TIMEOUT_MS: '500',
      TAPGATE_GATEWAY_RATE_LIMIT_PER_SECOND: '100000',
      TAPGATE_GATEWAY_RATE_LIMIT_BURST: '100000',
      TAPGATE_AUDIT_APPEND_TIMEOUT_MS: '2000',
    });
    gw = await stack.gateway(env);
    await ready(gw.ports.http);
    trail = new AuditTrail(stack.admin);
  });
  after(async () => {
    await stack.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('closes every ceremony exactly once: socket closed, gateway stopped (SIGTERM), gateway killed (SIGKILL)', async () => {
    const opened = new Map<string, string>(); // ceremonyId -> how its gateway/socket went away
    const openOn = async (url: string, terminalId: string, how: string, n: number) => {
      const neas: RawClient[] = [];
      for (let i = 0; i < n; i++) {
        const nea = await neaClient(url, terminalId);
        nea.send('esign.open', { reason: `close test ${how}`, secondSignerRequired: true }, 'E');
        opened.set((await nea.next('esign.opened')).data.ceremonyId, how);
        neas.push(nea);
      }
      // Two signatures land (one ceremony each: one tap signs one ceremony), so some are half signed.
      await stack.addTerminal(terminalId).catch(() => undefined);
      const ep = await endpointClient(
        endpointUrl(gw),
        terminalId,
        stack.terminals.get(terminalId)!.credential,
      );
      await tapOnce(ep, alice, terminalId);
      await tapOnce(ep, erin, terminalId);
      ep.close();
      return neas;
    };
    for (const t of ['T-CLOSE', 'T-TERM', 'T-KILL']) await stack.addTerminal(t);
    const term = await stack.gatewayProcess(env, join(dir, 'gw-term.log'));
    const kill = await stack.gatewayProcess(env, join(dir, 'gw-kill.log'));
    await Promise.all([ready(term.ports.http), ready(kill.ports.http)]);
    const closing = await openOn(neaUrl(gw), 'T-CLOSE', 'socket', 5);
    await openOn(`ws://127.0.0.1:${term.ports.webapi}/`, 'T-TERM', 'sigterm', 5);
    await openOn(`ws://127.0.0.1:${kill.ports.webapi}/`, 'T-KILL', 'sigkill', 5);
    for (const nea of closing) nea.close();
    await term.proc.stop();
    kill.proc.child.kill('SIGKILL');
    const closingsOf = (records: AuditRecord[], id: string) =>
      records.filter((r) => r.ceremonyId === id && CLOSINGS.has(r.outcome));
    // The killed gateway's ceremonies are closed by this replica's janitor once overdue.
    await waitFor(
      async () => {
        const records = await stored(trail);
        return [...opened.keys()].every((id) => closingsOf(records, id).length > 0);
      },
      { timeoutMs: 40_000, intervalMs: 500, what: 'a closing record for every ceremony' },
    ).catch(() => undefined);
    await sleep(3000); // a second closing record, if any, would land meanwhile
    const records = await stored(trail);
    const missing = [...opened].filter(([id]) => closingsOf(records, id).length === 0);
    const doubled = [...opened].filter(([id]) => closingsOf(records, id).length > 1);
    const byHow = (how: string) =>
      [...opened].filter(([id, h]) => h === how && closingsOf(records, id)[0]?.outcome === 'abandoned')
        .length;
    console.log(
      `closing records: ${opened.size} ceremonies (socket close ${byHow('socket')}/5, SIGTERM ` +
        `${byHow('sigterm')}/5, SIGKILL ${byHow('sigkill')}/5 closed as abandoned); without a closing ` +
        `record: ${missing.length}; with more than one: ${doubled.length}`,
    );
    assert.deepEqual(missing, []);
    assert.deepEqual(doubled, []);
    for (const [id] of opened) {
      // Either the two signatures landed on it (completed) or it was left open (abandoned).
      assert.match(closingsOf(records, id)[0].outcome, /^(abandoned|completed)$/);
    }
    const report = await trail.verifyChain();
    assert.equal(report.ok, true, JSON.stringify(report));
  });

  it('records exactly what the application was told while NATS stops at random moments during grants', async () => {
    const STALLS = Number(process.env.TAPGATE_TEST_STALLS ?? 100);
    await stack.addTerminal('T-STALL');
    const nea = await neaClient(neaUrl(gw), 'T-STALL');
    const ep = await endpointClient(endpointUrl(gw), 'T-STALL', stack.terminals.get('T-STALL')!.credential);
    const told = new Map<string, { app: string; kind: string; endpoint?: string }>();
    let endpointMismatch = 0;
    for (let i = 0; i < STALLS; i++) {
      // Even rounds: a login; odd rounds: a one-signature e-signature ceremony.
      const kind = i % 2 ? 'esign' : 'login';
      const from = nea.frames.length;
      let requestId = '';
      if (kind === 'login') {
        nea.send('login.request', { audience: 'poms', nonce: `n${i}` }, `L${i}`);
        requestId = (await nea.next('login.pending', (m) => m.ref === `L${i}`, 5000, from)).data.requestId;
      } else {
        nea.send(
          'esign.open',
          { reason: 'Stall', secondSignerRequired: false, recordHash: `h${i}` },
          `E${i}`,
        );
        requestId = (await nea.next('esign.opened', (m) => m.ref === `E${i}`, 5000, from)).data.ceremonyId;
      }
      const [challenge] = await takeChallenges(ep, 1);
      const tapId = randomUUID();
      const band = (i >> 1) % 2 ? alice : erin;
      const proof = band.answerTap({ challenge, terminalId: 'T-STALL' })!;
      ep.send('tap', { tapId, kind: 'nfc', bandId: band.bandId, proof, at: new Date().toISOString() }, tapId);
      // NATS stops 0-25 ms after the tap: before, during or after the delivery and the grant's append.
      await sleep(Math.random() * 25);
      await stack.nats.stop();
      const result = await ep.next('tap.result', (m) => m.ref === tapId, 10_000).catch(() => undefined);
      await stack.nats.start();
      await ready(gw.ports.http);
      const outcome =
        kind === 'login'
          ? await nea
              .next('login.result', (m) => m.data.requestId === requestId, 500, from)
              .then((m) => m.data.outcome)
              .catch(() => undefined)
          : await nea
              .next('esign.signature', (m) => m.data.ceremonyId === requestId, 500, from)
              .then((m) => m.data.outcome)
              .catch(() => undefined);
      if (!outcome) {
        // The tap never reached the application: its request is still open; end it.
        if (kind === 'login') {
          nea.send('login.cancel', undefined, `C${i}`);
          await nea.next('login.result', (m) => m.data.requestId === requestId, 5000, from);
        }
      }
      if (kind === 'esign') {
        if (!nea.frames.slice(from).some((f) => f.type === 'esign.closed')) {
          nea.send('esign.cancel', { ceremonyId: requestId }, `X${i}`);
        }
        await nea.next('esign.closed', (m) => m.data.ceremonyId === requestId, 5000, from);
      }
      const app = outcome === undefined ? 'nothing' : outcome === 'granted' ? 'granted' : 'refused';
      told.set(tapId, { app, kind, endpoint: result?.data.decision.outcome });
      if (result && outcome !== undefined && result.data.decision.outcome !== app) {
        // Only possible when NATS went away after the grant was stored and before the delivery's
        // answer got back to the endpoint's replica (the answer travels through NATS).
        endpointMismatch++;
        console.log(
          `endpoint ${result.data.decision.outcome}/${result.data.decision.reason}, application ${app}`,
        );
      }
    }
    // Queued records reach the trail once NATS is back.
    const disagreements = async () => {
      const records = (await stored(trail)).filter((r) => r.tapId && told.get(r.tapId)?.kind === r.kind);
      const problems: string[] = [];
      for (const [tapId, t] of told) {
        const mine = records.filter((r) => r.tapId === tapId).map((r) => r.outcome);
        const grants = mine.filter((o) => o === 'granted').length;
        const voided = mine.filter((o) => o === 'voided').length;
        const refused = mine.filter((o) => o === 'refused').length;
        const ok =
          t.app === 'granted'
            ? grants === 1 && voided === 0 && refused === 0
            : t.app === 'refused'
              ? voided + refused === 1 && grants <= voided
              : mine.length === 0 || (grants <= voided && refused === 0);
        if (!ok) problems.push(`${tapId}: told ${t.app}, trail ${mine.join(',') || 'nothing'}`);
      }
      return problems;
    };
    let problems: string[] = ['not read yet'];
    await waitFor(async () => (problems = await disagreements()).length === 0, {
      timeoutMs: 20_000,
      intervalMs: 500,
    }).catch(() => undefined);
    const counts = { granted: 0, refused: 0, nothing: 0 };
    for (const t of told.values()) counts[t.app as keyof typeof counts]++;
    console.log(
      `NATS stalls during grants: ${STALLS} stalls; application told granted ${counts.granted}, refused ` +
        `${counts.refused}, nothing ${counts.nothing}; audit records that disagree with what the ` +
        `application was told: ${problems.length}; endpoint outcome different from the application's ` +
        `(the delivery's answer lost with NATS): ${endpointMismatch}`,
    );
    assert.deepEqual(problems, []);
    const report = await trail.verifyChain();
    assert.equal(report.ok, true, JSON.stringify(report));
    nea.close();
    ep.close();
  });
});
