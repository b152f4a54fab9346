import { SoftwareBand } from '@tapgate/band';
import { AgentClient, EndpointNode, SimulatedDriver, startControlServer } from '@tapgate/endpoint-node';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { waitFor } from '@tapgate/testing';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { RunningGateway } from './bootstrap';
import { neaClient, type RawClient } from './testing/clients';
import { GatewayTestStack, endpointUrl, neaUrl, serveUserStatuses } from './testing/stack';

describe('endpoint node with the simulated driver against a real gateway', () => {
  let stack: GatewayTestStack;
  let gw: RunningGateway;
  let node: EndpointNode;
  let driver: SimulatedDriver;
  let band: SoftwareBand;
  let nea: RawClient;
  let client: AgentClient;
  let control: Server;
  let carol: SoftwareBand;
  let mallory: SoftwareBand;
  before(async () => {
    stack = await GatewayTestStack.start();
    // mallory is enrolled but the directory does not know her: refused, unlike carol.
    serveUserStatuses(stack.admin, { alice: 'active', carol: 'active' });
    band = await stack.enroll('alice');
    await stack.addTerminal('T-NODE');
    gw = await stack.gateway();
    await waitFor(async () => (await fetch(`http://127.0.0.1:${gw.ports.http}/readyz`)).ok);
    driver = new SimulatedDriver();
    driver.addBand(band);
    client = new AgentClient({
      url: endpointUrl(gw),
      terminalId: 'T-NODE',
      credential: stack.terminals.get('T-NODE')!.credential,
    });
    node = new EndpointNode({ client, driver, ble: { windowTap: 5, windowLong: 20, threshold: -42 } });
    await node.start();
    await waitFor(() => client.connected);
    nea = await neaClient(neaUrl(gw), 'T-NODE');
    carol = await stack.enroll('carol');
    mallory = await stack.enroll('mallory');
    for (const b of [carol, mallory]) {
      driver.addBand(b);
      b.clasp();
      b.authenticate();
    }
    control = await startControlServer(0, 'T-NODE', driver, node, client);
  });
  after(async () => {
    control?.close();
    nea.close();
    await node.stop();
    await stack.stop();
  });

  it('forwards an NFC tap from the driver, signed by the band', async () => {
    band.clasp();
    band.authenticate();
    driver.tapNfc(band.bandId);
    const tap = await nea.next('tap', (m) => m.data.kind === 'nfc');
    assert.equal(tap.data.decision.outcome, 'granted');
    assert.equal(tap.data.decision.identifiedBy, 'proof');
  });

  it('turns one BLE approach into exactly one BLE tap', async () => {
    const { RssiScript, approach, hold, leave } = await import('@tapgate/band');
    const before = nea.frames.length;
    await driver.play(
      band.bandId,
      RssiScript.fromSegments([approach(-85, -36, 800), hold(-36, 800), leave(-36, -90, 600)], {
        intervalMs: 50,
      }),
    );
    await nea.next('tap', (m) => m.data.kind === 'ble', 5000, before);
    await new Promise((r) => setTimeout(r, 300));
    const bleTaps = nea.frames.slice(before).filter((f) => f.type === 'tap' && f.data.kind === 'ble');
    assert.equal(bleTaps.length, 1);
  });

  it('answers two taps fired at once, each with its own decision (no 5 s wait, no lost tap)', async () => {
    for (let round = 0; round < 5; round++) {
      const started = performance.now();
      const [c, m] = await Promise.all(
        [carol, mallory].map((b) =>
          client.tap({
            kind: 'nfc',
            bandId: b.bandId,
            sign: (challenge, terminalId) => b.answerTap({ challenge, terminalId }),
          }),
        ),
      );
      const ms = performance.now() - started;
      assert.equal(c.decision.outcome, 'granted');
      assert.equal(c.decision.user?.sAMAccountName, 'carol');
      assert.equal(m.decision.outcome, 'refused');
      assert.notEqual(c.tapId, m.tapId);
      assert.ok(ms < 2000, `two taps took ${ms.toFixed(0)} ms`);
      if (round === 0) console.log(`two simultaneous AgentClient taps answered in ${ms.toFixed(0)} ms`);
    }
  });

  it("answers two concurrent control-port taps (POST /bands/:id/tap) with each one's own result", async () => {
    const port = (control.address() as AddressInfo).port;
    for (let round = 0; round < 5; round++) {
      const started = performance.now();
      const [c, m] = await Promise.all(
        [carol, mallory].map(async (b) => {
          const res = await fetch(`http://127.0.0.1:${port}/bands/${b.bandId}/tap`, { method: 'POST' });
          return {
            status: res.status,
            body: (await res.json()) as { decision: { outcome: string; user?: { sAMAccountName: string } } },
          };
        }),
      );
      const ms = performance.now() - started;
      assert.equal(c.status, 200);
      assert.equal(m.status, 200);
      assert.equal(c.body.decision.outcome, 'granted');
      assert.equal(c.body.decision.user?.sAMAccountName, 'carol');
      assert.equal(m.body.decision.outcome, 'refused');
      assert.ok(ms < 2000, `two control-port taps took ${ms.toFixed(0)} ms`);
      if (round === 0) console.log(`two simultaneous control-port taps answered in ${ms.toFixed(0)} ms`);
    }
  });

  it('does not tap for a band that is not authenticated (the band stays silent)', async () => {
    band.remove();
    const before = node.recent.length;
    driver.tapNfc(band.bandId);
    await waitFor(() => node.recent.length > before && node.recent[0].error !== undefined);
    assert.match(node.recent[0].error!, /did not answer/);
  });
});
