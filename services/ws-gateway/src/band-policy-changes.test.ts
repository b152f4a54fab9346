import type { SoftwareBand } from '@tapgate/band';
import type { TapDecision } from '@tapgate/contracts';
import { AgentClient } from '@tapgate/endpoint-node';
import { startPolicy, type PolicyHarness } from '@tapgate/policy';
import { waitFor } from '@tapgate/testing';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { RunningGateway } from './bootstrap';
import { neaClient, type RawClient } from './testing/clients';
import { GatewayTestStack, endpointUrl, neaUrl, serveUserStatuses } from './testing/stack';

/** What an administrator's change must take effect within, on every replica. */
const WITHIN_MS = 1000;

/**
 * Band suspend, band delete and policy changes as an administrator makes them: through the real policy
 * API, with two gateway replicas watching the records. Each replica has an endpoint (T-A on A, T-B on B)
 * whose application is bound on the other replica; each change is timed from the API call until a tap
 * on each replica is decided the new way.
 */
describe('band suspend/delete and policy changes apply on every replica within 1 s', () => {
  let stack: GatewayTestStack;
  let policy: PolicyHarness;
  let gwA: RunningGateway;
  let gwB: RunningGateway;
  let alice: SoftwareBand;
  const endpoints: AgentClient[] = [];
  const neas: RawClient[] = [];

  const tapOn = (ep: AgentClient) =>
    ep.tap({
      kind: 'nfc',
      bandId: alice.bandId,
      sign: (c, t) => alice.answerTap({ challenge: c, terminalId: t }),
    });

  /**
   * Calls `change` (an API call), then taps on both replicas back to back until each is decided as
   * `expected` says; returns per replica the ms from the call's start to the first such tap.
   */
  async function timeChange(
    what: string,
    change: () => Promise<void>,
    expected: (d: TapDecision) => boolean,
  ): Promise<number[]> {
    const started = performance.now();
    await change();
    const answered = performance.now() - started;
    const stale = [0, 0];
    const ms = await Promise.all(
      endpoints.map(async (ep, i) => {
        for (;;) {
          const r = await tapOn(ep);
          const at = performance.now() - started;
          if (expected(r.decision)) return at;
          stale[i]++;
          if (at > 5000) {
            assert.fail(`${what}: still ${JSON.stringify(r.decision)} after ${at.toFixed(0)} ms`);
          }
        }
      }),
    );
    console.log(
      `${what}: API answered in ${answered.toFixed(0)} ms; next tap decided the new way on replica A ` +
        `after ${ms[0].toFixed(0)} ms, on replica B after ${ms[1].toFixed(0)} ms ` +
        `(taps still decided the old way after the answer: ${stale.join(', ')})`,
    );
    for (const m of ms) assert.ok(m < WITHIN_MS, `${what} took ${m.toFixed(0)} ms`);
    return ms;
  }

  const granted = (d: TapDecision) => d.outcome === 'granted';
  const refusedWith = (reason: string) => (d: TapDecision) => d.outcome === 'refused' && d.reason === reason;

  before(async () => {
    stack = await GatewayTestStack.start();
    policy = await startPolicy(stack.nats.url);
    serveUserStatuses(stack.admin, { alice: 'active' });
    alice = await stack.enroll('alice');
    alice.clasp();
    alice.authenticate();
    const tA = await stack.addTerminal('T-A');
    const tB = await stack.addTerminal('T-B');
    [gwA, gwB] = await Promise.all([stack.gateway(), stack.gateway()]);
    for (const gw of [gwA, gwB]) {
      await waitFor(async () => (await fetch(`http://127.0.0.1:${gw.ports.http}/readyz`)).ok);
    }
    for (const [gw, t] of [
      [gwA, tA],
      [gwB, tB],
    ] as const) {
      const ep = new AgentClient({
        url: endpointUrl(gw),
        terminalId: t.terminalId,
        credential: t.credential,
      });
      ep.start();
      await waitFor(() => ep.connected, { what: `endpoint ${t.terminalId} connected` });
      endpoints.push(ep);
    }
    // Each terminal's application sits on the other replica.
    neas.push(await neaClient(neaUrl(gwB), 'T-A'), await neaClient(neaUrl(gwA), 'T-B'));
    for (const ep of endpoints) assert.equal((await tapOn(ep)).decision.outcome, 'granted');
  });
  after(async () => {
    for (const n of neas) n.close();
    for (const ep of endpoints) await ep.stop();
    await policy?.close();
    await stack.stop();
  });

  it('a user policy (presence required) applies when created and reverts when deleted', async () => {
    // The gateways run with [gateway] require_presence = false; no presence service answers here, so
    // a policy requiring presence refuses alice's taps (presence_unknown) and its deletion grants again.
    await timeChange(
      'policy created (user alice, requirePresence true)',
      async () => {
        const res = await policy.api('POST', '/v1/policies', {
          body: {
            policyId: 'alice-presence',
            kind: 'user',
            name: 'Alice needs presence',
            user: 'alice',
            settings: { tap: { requirePresence: true } },
          },
        });
        assert.equal(res.status, 201, JSON.stringify(res.body));
      },
      refusedWith('presence_unknown'),
    );
    await timeChange(
      'policy deleted -> baseline (presence not required) again',
      async () => {
        const res = await policy.api('DELETE', '/v1/policies/alice-presence');
        assert.equal(res.status, 204);
      },
      granted,
    );
  });

  it('a suspended band is refused band_suspended, a reactivated one granted again', async () => {
    await timeChange(
      'band suspended',
      async () => {
        const res = await policy.api('POST', `/v1/enrollments/${alice.bandId}/suspend`);
        assert.equal(res.status, 200);
      },
      refusedWith('band_suspended'),
    );
    await timeChange(
      'band reactivated',
      async () => {
        const res = await policy.api('POST', `/v1/enrollments/${alice.bandId}/reactivate`);
        assert.equal(res.status, 200);
      },
      granted,
    );
  });

  it('a deleted enrollment is refused unknown_band', async () => {
    await timeChange(
      'enrollment deleted',
      async () => {
        const res = await policy.api('DELETE', `/v1/enrollments/${alice.bandId}`);
        assert.equal(res.status, 204);
      },
      refusedWith('unknown_band'),
    );
  });
});
