import { SoftwareBand } from '@tapgate/band';
import { AgentClient, EndpointNode, SimulatedDriver } from '@tapgate/endpoint-node';
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
  before(async () => {
    stack = await GatewayTestStack.start();
    serveUserStatuses(stack.admin, { alice: 'active' });
    band = await stack.enroll('alice');
    await stack.addTerminal('T-NODE');
    gw = await stack.gateway();
    await waitFor(async () => (await fetch(`http://127.0.0.1:${gw.ports.http}/readyz`)).ok);
    driver = new SimulatedDriver();
    driver.addBand(band);
    const client = new AgentClient({
      url: endpointUrl(gw),
      terminalId: 'T-NODE',
      credential: stack.terminals.get('T-NODE')!.credential,
    });
    node = new EndpointNode({ client, driver, ble: { windowTap: 5, windowLong: 20, threshold: -42 } });
    await node.start();
    await waitFor(() => client.connected);
    nea = await neaClient(neaUrl(gw), 'T-NODE');
  });
  after(async () => {
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

  it('does not tap for a band that is not authenticated (the band stays silent)', async () => {
    band.remove();
    const before = node.recent.length;
    driver.tapNfc(band.bandId);
    await waitFor(() => node.recent.length > before && node.recent[0].error !== undefined);
    assert.match(node.recent[0].error!, /did not answer/);
  });
});
