import type { SoftwareBand } from '@tapgate/band';
import { AgentClient } from '@tapgate/endpoint-node';
import { waitFor } from '@tapgate/testing';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { RunningGateway } from './bootstrap';
import { neaClient, type RawClient } from './testing/clients';
import { GatewayTestStack, endpointUrl, neaUrl, readyz, serveUserStatuses } from './testing/stack';

const TERMINAL = 'T-SHARED';

/**
 * Explicitly bound (terminal id) and implicitly bound (source address) NEA clients of one terminal: each
 * binding group on each replica answers the delivery request, and `deliveredTo` must count every socket
 * that got the tap, not the first group's answer.
 */
describe('deliveredTo counts every NEA socket that got the tap (explicit + implicit, two replicas)', () => {
  let stack: GatewayTestStack;
  let gwA: RunningGateway;
  let gwB: RunningGateway;
  let ep: AgentClient;
  let alice: SoftwareBand;
  const open: RawClient[] = [];

  const tap = () =>
    ep.tap({
      kind: 'nfc',
      bandId: alice.bandId,
      sign: (c, t) => alice.answerTap({ challenge: c, terminalId: t }),
    });

  /** Taps `times` times; every client must get each tap, and deliveredTo must be their number. */
  async function tapAndCount(clients: RawClient[], times: number): Promise<number[]> {
    const counted: number[] = [];
    const took: number[] = [];
    for (let i = 0; i < times; i++) {
      const started = performance.now();
      const result = await tap();
      took.push(performance.now() - started);
      assert.equal(result.decision.outcome, 'granted', result.decision.message);
      for (const c of clients) {
        const got = await c.next('tap', (m) => m.data.tapId === result.tapId, 2000);
        assert.equal(got.data.terminalId, TERMINAL);
      }
      counted.push(result.deliveredTo);
    }
    took.sort((x, y) => x - y);
    console.log(`  tap -> tap.result at the endpoint: median ${took[took.length >> 1].toFixed(1)} ms`);
    return counted;
  }

  async function connect(gw: RunningGateway, explicit: number, implicit: number): Promise<RawClient[]> {
    const made: RawClient[] = [];
    for (let i = 0; i < explicit; i++) made.push(await neaClient(neaUrl(gw), TERMINAL));
    // Implicit: no terminal id; bound by the source address, 127.0.0.1 like the endpoint's.
    for (let i = 0; i < implicit; i++) made.push(await neaClient(neaUrl(gw)));
    open.push(...made);
    return made;
  }

  before(async () => {
    stack = await GatewayTestStack.start();
    serveUserStatuses(stack.admin, { alice: 'active' });
    alice = await stack.enroll('alice');
    alice.clasp();
    alice.authenticate();
    const t = await stack.addTerminal(TERMINAL);
    [gwA, gwB] = await Promise.all([stack.gateway(), stack.gateway()]);
    for (const gw of [gwA, gwB]) {
      await waitFor(async () => (await fetch(`http://127.0.0.1:${gw.ports.http}/readyz`)).ok);
    }
    ep = new AgentClient({ url: endpointUrl(gwA), terminalId: TERMINAL, credential: t.credential });
    ep.start();
    await waitFor(() => ep.connected, { what: 'endpoint connected' });
  });
  after(async () => {
    for (const c of open) c.close();
    await ep?.stop();
    await stack.stop();
  });

  it('one replica: two explicit and one implicit client -> deliveredTo 3, every tap', async () => {
    const clients = await connect(gwA, 2, 1);
    const counted = await tapAndCount(clients, 8);
    console.log(`one replica, 2 explicit + 1 implicit: deliveredTo per tap ${counted.join(',')}`);
    assert.deepEqual(counted, Array(8).fill(3));
    for (const c of clients) c.close();
    await new Promise((r) => setTimeout(r, 100));
  });

  it('two replicas: explicit and implicit clients on both -> deliveredTo counts all of them', async () => {
    const clients = [...(await connect(gwA, 1, 1)), ...(await connect(gwB, 2, 1))];
    const counted = await tapAndCount(clients, 8);
    console.log(`two replicas, A 1+1, B 2+1: deliveredTo per tap ${counted.join(',')}`);
    assert.deepEqual(counted, Array(8).fill(5));

    // Only the implicit client on B left (the endpoint is on A): still counted, once.
    for (const c of clients.slice(0, 4)) c.close();
    await new Promise((r) => setTimeout(r, 100));
    const [only] = await tapAndCount([clients[4]], 3);
    assert.equal(only, 1);
    // A new group (explicit, on A) after the endpoint's replica learned "one group answers": it is told
    // to forget that number, so the very next tap counts both.
    const [late] = await connect(gwA, 1, 0);
    const [both] = await tapAndCount([clients[4], late], 1);
    assert.equal(both, 2);
    clients[4].close();
    late.close();
  });

  it('nobody bound: refused no_listener at once (the no-responders fast path)', async () => {
    // Every NEA socket of the previous test is gone on both replicas (on a loaded machine a close takes
    // a while), then their delivery subscriptions are dropped a moment later.
    await waitFor(
      async () => ((await readyz(gwA)).sockets === 1 && (await readyz(gwB)).sockets === 0) || undefined,
      {
        what: 'only the endpoint connected',
      },
    );
    await new Promise((r) => setTimeout(r, 100));
    const started = performance.now();
    const result = await tap();
    const ms = performance.now() - started;
    assert.equal(result.decision.outcome, 'refused');
    assert.equal(result.decision.reason, 'no_listener');
    assert.equal(result.deliveredTo, 0);
    console.log(`no listener: tap answered in ${ms.toFixed(0)} ms`);
    assert.ok(ms < 500);
  });
});
