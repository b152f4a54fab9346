import { SoftwareBand } from '@tapgate/band';
import type { TapResult } from '@tapgate/contracts';
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { AgentClient, TapRequest } from './agent-client';
import type { DriverSink, NfcRead, ReaderDriver } from './drivers/driver';
import { EndpointNode, LEGACY_PROTOCOL_REFUSED } from './endpoint-node';

// The legacy switch is pure logic between the driver and the gateway client, so both are stand-ins
// here; the PC/SC test in services/ws-gateway runs it against pcscd, vpcd and a real gateway.
class ScriptedDriver implements ReaderDriver {
  readonly name = 'scripted';
  sink: DriverSink | undefined;
  async start(sink: DriverSink) {
    this.sink = sink;
  }
  async stop() {}
}

function recordingClient() {
  const sent: TapRequest[] = [];
  const client = {
    start() {},
    async stop() {},
    adverts: () => true,
    async tap(req: TapRequest): Promise<TapResult> {
      const proof = req.sign ? await req.sign('Q2hhbGxlbmdlLWxlZ2FjeS1zd2l0Y2gtMDE', 'T-1') : undefined;
      if (req.sign && !proof) throw new Error('the band did not answer');
      sent.push(req);
      return {
        tapId: 't',
        deliveredTo: 1,
        decision: { outcome: 'granted', identifiedBy: proof ? 'proof' : 'uid' },
      };
    },
  };
  return { client: client as unknown as AgentClient, sent };
}

async function tapWith(supportLegacyMode: boolean | undefined, read: NfcRead) {
  const driver = new ScriptedDriver();
  const { client, sent } = recordingClient();
  const node = new EndpointNode({
    client,
    driver,
    ble: { windowTap: 5, windowLong: 20, threshold: 0 },
    supportLegacyMode,
  });
  await node.start();
  driver.sink!.nfc(read);
  await new Promise((r) => setImmediate(r));
  await new Promise((r) => setTimeout(r, 10));
  await node.stop();
  return { record: node.recent[0], sent };
}

describe('NYMI_NEA_SUPPORT_LEGACY_MODE at the endpoint', () => {
  const band = SoftwareBand.generate();
  band.clasp();
  band.authenticate();
  const v1 = (challenge: string, terminalId: string) => band.answerTap({ challenge, terminalId });
  const v2 = (challenge: string, terminalId: string) =>
    band.answerTap({ challenge, terminalId, kind: 'nfc' });
  const reads: Record<string, NfcRead> = {
    'a plain UID badge': { uid: '04a1b2c3' },
    'a band application of version 1': { bandId: band.bandId, protocolVersion: 1, sign: v2 },
    'a band whose proof is format 1': { bandId: band.bandId, sign: v1 },
  };

  for (const [what, read] of Object.entries(reads)) {
    it(`off (0): ${what} is refused at the terminal with reason ${LEGACY_PROTOCOL_REFUSED}, nothing sent`, async () => {
      const { record, sent } = await tapWith(false, read);
      assert.equal(record.refused?.reason, LEGACY_PROTOCOL_REFUSED);
      assert.equal(record.result, undefined);
      assert.equal(sent.length, 0);
    });
    for (const mode of [undefined, true]) {
      it(`${mode === undefined ? 'unset' : 'on (1)'}: ${what} is sent to the gateway`, async () => {
        const { record, sent } = await tapWith(mode, read);
        assert.equal(record.refused, undefined);
        assert.equal(record.result?.decision.outcome, 'granted');
        assert.equal(sent.length, 1);
      });
    }
  }

  it('off (0): a current band (application version 2, proof format 2) is sent', async () => {
    const { record, sent } = await tapWith(false, { bandId: band.bandId, protocolVersion: 2, sign: v2 });
    assert.equal(record.result?.decision.outcome, 'granted');
    assert.equal(sent.length, 1);
  });
});
