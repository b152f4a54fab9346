import { generateSigningKeyFile } from '@tapgate/assertions';
import type { SoftwareBand } from '@tapgate/band';
import type { AssertionClaims, ServerMessage } from '@tapgate/contracts';
import { waitFor } from '@tapgate/testing';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { RunningGateway } from './bootstrap';
import { decisionAgeBounds } from './settings';
import { endpointClient, neaClient, takeChallenges, type RawClient } from './testing/clients';
import { GatewayTestStack, endpointUrl, neaUrl, serveUserStatuses } from './testing/stack';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const TAP_TIMEOUT_MS = 1000;
const { maxAgeMs } = decisionAgeBounds(TAP_TIMEOUT_MS);
/** Transit allowance between the application's gateway and the NEA socket in this test. */
const SLACK_MS = 300;

const claimsOf = (jws: string) =>
  JSON.parse(Buffer.from(jws.split('.')[1], 'base64url').toString('utf8')) as AssertionClaims;

/** An NEA socket that keeps a login pending and notes when each frame arrived. */
class WaitingApp {
  readonly arrivals: Array<{ at: number; frame: ServerMessage }> = [];
  private n = 0;
  constructor(readonly nea: RawClient) {
    nea.ws.on('message', () => {
      // RawClient pushed the decoded frame first (its listener was added first).
      const frame = nea.frames[nea.frames.length - 1];
      this.arrivals.push({ at: Date.now(), frame });
      if (frame.type === 'login.result' && frame.data.outcome !== 'cancelled') this.ask();
    });
    this.ask();
  }
  ask(): void {
    this.nea.send('login.request', { audience: 'poms', timeoutMs: 600_000 }, `L${++this.n}`);
  }
}

describe('bounded decision age: a gateway hang (SIGSTOP 10 s) yields no late grants', () => {
  let stack: GatewayTestStack;
  let gw: RunningGateway;
  let alice: SoftwareBand;
  const dir = mkdtempSync(join(tmpdir(), 'tapgate-age-'));
  const env: Record<string, string> = {};
  const totals = {
    tooOld: 0,
    taps: 0,
    appGrants: 0,
    lateGrants: 0,
    lateDeliveries: 0,
    mismatches: 0,
    answered: 0,
  };

  before(async () => {
    stack = await GatewayTestStack.start();
    serveUserStatuses(stack.admin, { alice: 'active' });
    alice = await stack.enroll('alice');
    alice.clasp();
    alice.authenticate();
    const key = join(dir, 'signing.pem');
    generateSigningKeyFile(key);
    Object.assign(env, {
      TAPGATE_ASSERTIONS_SIGNING_KEY_FILES: key,
      TAPGATE_GATEWAY_TAP_TIMEOUT_MS: String(TAP_TIMEOUT_MS),
      TAPGATE_GATEWAY_RATE_LIMIT_PER_SECOND: '100000',
      TAPGATE_GATEWAY_RATE_LIMIT_BURST: '100000',
    });
    gw = await stack.gateway(env);
    await waitFor(
      async () =>
        ((await (await fetch(`http://127.0.0.1:${gw.ports.http}/readyz`)).json()) as { ceremonies: boolean })
          .ceremonies,
    );
  });
  after(async () => {
    await stack.stop();
    if (process.env.KEEP) console.log(dir);
    else rmSync(dir, { recursive: true, force: true });
    console.log(
      `decision age after 10 s SIGSTOPs: ${totals.taps} taps in flight, ${totals.appGrants} grants ` +
        `received by applications, late grants (older than ${maxAgeMs} ms + ${SLACK_MS} ms): ` +
        `${totals.lateGrants}, late deliveries: ${totals.lateDeliveries}; endpoint answers ${totals.answered} ` +
        `(${totals.tooOld} refused as decision_too_old), ` +
        `of which different from the application's login outcome: ${totals.mismatches}`,
    );
  });

  /**
   * Fires `taps` signed taps 25 ms apart on a raw endpoint, stops `victim` (SIGSTOP) after the
   * third one for 10 s, then counts what the applications received and when.
   */
  async function hang(opts: {
    terminalId: string;
    endpointUrl: string;
    neaUrl: string;
    victim: number;
    taps: number;
  }): Promise<void> {
    const t = await stack.addTerminal(opts.terminalId);
    const apps: WaitingApp[] = [];
    for (let i = 0; i < opts.taps; i++) apps.push(new WaitingApp(await neaClient(opts.neaUrl, t.terminalId)));
    await sleep(200); // the logins are pending
    const ep = await endpointClient(opts.endpointUrl, t.terminalId, t.credential);
    const challenges = await takeChallenges(ep, Math.min(8, opts.taps));
    const sent: string[] = [];
    for (let i = 0; i < challenges.length; i++) {
      const tapId = randomUUID();
      sent.push(tapId);
      const proof = alice.answerTap({ challenge: challenges[i], terminalId: t.terminalId })!;
      ep.send(
        'tap',
        { tapId, kind: 'nfc', bandId: alice.bandId, proof, at: new Date().toISOString() },
        tapId,
      );
      if (i === 2) process.kill(opts.victim, 'SIGSTOP');
      await sleep(25);
    }
    await sleep(10_000);
    process.kill(opts.victim, 'SIGCONT');
    await waitFor(() => sent.every((id) => ep.frames.some((f) => f.type === 'tap.result' && f.ref === id)), {
      timeoutMs: 15_000,
      what: 'every tap answered',
    });
    await sleep(1000);
    totals.taps += sent.length;
    const receivedAt = new Map<string, number>();
    for (const a of apps) {
      for (const { at, frame } of a.arrivals) {
        if (frame.type !== 'tap') continue;
        receivedAt.set(frame.data.tapId, Date.parse(frame.data.at));
        if (at - Date.parse(frame.data.at) > maxAgeMs + SLACK_MS) totals.lateDeliveries++;
      }
    }
    const appOutcome = new Map<string, string>();
    for (const a of apps) {
      for (const { at, frame } of a.arrivals) {
        if (frame.type !== 'login.result' || frame.data.outcome !== 'granted') continue;
        totals.appGrants++;
        const tapId = claimsOf(frame.data.assertion!).tapgate.tapId;
        appOutcome.set(tapId, 'granted');
        const tappedAt = receivedAt.get(tapId);
        if (tappedAt === undefined || at - tappedAt > maxAgeMs + SLACK_MS) totals.lateGrants++;
      }
    }
    for (const id of sent) {
      const r = ep.frames.find((f) => f.type === 'tap.result' && f.ref === id);
      if (r?.type !== 'tap.result') continue;
      totals.answered++;
      if (r.data.decision.reason === 'decision_too_old') totals.tooOld++;
      const endpointSaw = r.data.decision.outcome;
      if ((appOutcome.get(id) ?? 'refused') !== endpointSaw) {
        totals.mismatches++;
        console.log(
          `mismatch (${opts.terminalId}) tap ${id} at ${receivedAt.get(id)}: endpoint ${endpointSaw}/${r.data.decision.reason ?? ''}, ` +
            `application ${appOutcome.get(id) ?? 'no grant'}`,
        );
      }
    }
    ep.close();
    for (const a of apps) a.nea.close();
  }

  it("the endpoint's replica hangs with taps in flight", async () => {
    const p = await stack.gatewayProcess(env, join(dir, 'gw-endpoint.log'));
    await waitFor(async () => (await fetch(`http://127.0.0.1:${p.ports.http}/readyz`)).ok);
    await hang({
      terminalId: 'T-AGE-EP',
      endpointUrl: `ws://127.0.0.1:${p.ports.agent}/socket/websocket`,
      neaUrl: neaUrl(gw),
      victim: p.proc.child.pid!,
      taps: 8,
    });
    assert.equal(totals.lateGrants, 0);
    assert.equal(totals.lateDeliveries, 0);
  });

  it("the application's replica hangs with taps in flight", async () => {
    const p = await stack.gatewayProcess(env, join(dir, 'gw-nea.log'));
    await waitFor(
      async () =>
        ((await (await fetch(`http://127.0.0.1:${p.ports.http}/readyz`)).json()) as { ceremonies: boolean })
          .ceremonies,
    );
    await hang({
      terminalId: 'T-AGE-NEA',
      endpointUrl: endpointUrl(gw),
      neaUrl: `ws://127.0.0.1:${p.ports.webapi}/`,
      victim: p.proc.child.pid!,
      taps: 8,
    });
    assert.equal(totals.lateGrants, 0);
    assert.equal(totals.lateDeliveries, 0);
    assert.equal(totals.mismatches, 0);
  });
});
