import { BAND_CARD_INS, SW, SoftwareBand, respond } from '@tapgate/band';
import { AgentClient, EndpointNode, PcscDriver, type TapRecord } from '@tapgate/endpoint-node';
import { TestPcscd, VirtualCard, bandCard, uidBadge, waitFor, type CardFaults } from '@tapgate/testing';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { RunningGateway } from './bootstrap';
import { neaClient, type RawClient } from './testing/clients';
import { GatewayTestStack, endpointUrl, neaUrl, serveUserStatuses } from './testing/stack';

/**
 * The endpoint node's PC/SC driver against the real PC/SC stack: a private pcscd with vsmartcard's vpcd
 * reader driver, and virtual cards (libs/testing) that speak vpcd's socket protocol as a UID badge or a
 * band's card face. Taps go endpoint node -> gateway -> NEA client.
 */
const TERMINAL = 'T-PCSC';
const READER = 'Tapgate VR';
const APDU_TIMEOUT_MS = 800;

describe('PC/SC endpoint: pcscd + vpcd virtual reader + virtual cards against a real gateway', () => {
  let pcscd: TestPcscd;
  let stack: GatewayTestStack;
  let gw: RunningGateway;
  let nea: RawClient;
  let alice: SoftwareBand;
  let lena: SoftwareBand;
  let mallory: SoftwareBand;
  let endpoint: { node: EndpointNode; driver: PcscDriver } | undefined;
  const BADGE_UID = '04a1b2c3d4e5f6';

  async function startEndpoint(supportLegacyMode: boolean) {
    await endpoint?.node.stop();
    const driver = new PcscDriver({ apduTimeoutMs: APDU_TIMEOUT_MS });
    const client = new AgentClient({
      url: endpointUrl(gw),
      terminalId: TERMINAL,
      credential: stack.terminals.get(TERMINAL)!.credential,
    });
    const node = new EndpointNode({
      client,
      driver,
      ble: { windowTap: 5, windowLong: 20, threshold: 0 },
      supportLegacyMode,
    });
    await node.start();
    await waitFor(() => client.connected, { what: 'endpoint connected' });
    await waitFor(() => driver.list().length === 2, { what: 'both virtual readers seen' });
    endpoint = { node, driver };
    return endpoint;
  }

  /** Puts a card on a reader, waits for the tap it makes to finish, takes the card off. */
  async function tapCard(
    card: Parameters<typeof VirtualCard.insert>[1],
    opts: { slot?: 0 | 1; faults?: CardFaults; reader?: string } = {},
  ): Promise<{ record: TapRecord; card: VirtualCard }> {
    const node = endpoint!.node;
    const before = node.recent.length;
    const first = node.recent[0];
    const vc = await VirtualCard.insert(pcscd.port(opts.reader ?? READER, opts.slot ?? 0), card, opts.faults);
    const record = await waitFor(
      () => {
        const r = node.recent[0];
        return r !== undefined && (r !== first || node.recent.length > before) && settled(r) ? r : undefined;
      },
      { what: 'the tap to finish', timeoutMs: 10_000 },
    );
    await vc.remove();
    // The next card on this reader is seen only after pcscd has seen this one leave.
    const reader = `${opts.reader ?? READER} 00 0${opts.slot ?? 0}`;
    await waitFor(() => endpoint!.driver.list().some((r) => r.reader === reader && !r.card), {
      what: `${reader} empty again`,
      timeoutMs: 15_000,
    });
    return { record, card: vc };
  }

  const settled = (r: TapRecord) =>
    r.result !== undefined || r.error !== undefined || r.refused !== undefined;

  before(async () => {
    pcscd = await TestPcscd.start([READER]);
    // The PC/SC client library reads this when the driver first connects.
    process.env.PCSCLITE_CSOCK_NAME = pcscd.socketPath;
    stack = await GatewayTestStack.start();
    serveUserStatuses(stack.admin, { alice: 'active', lena: 'active', badge: 'active' });
    alice = await stack.enroll('alice');
    lena = await stack.enroll('lena');
    mallory = await stack.enroll('mallory'); // enrolled, but the directory does not know her
    await stack.enroll('badge', { band: SoftwareBand.generate(`uid-${BADGE_UID}`) });
    for (const b of [alice, lena, mallory]) {
      b.clasp();
      b.authenticate();
    }
    await stack.addTerminal(TERMINAL);
    gw = await stack.gateway({ TAPGATE_GATEWAY_ALLOW_UID_TAPS: 'true' });
    await waitFor(async () => (await fetch(`http://127.0.0.1:${gw.ports.http}/readyz`)).ok);
    nea = await neaClient(neaUrl(gw), TERMINAL);
  });

  after(async () => {
    nea?.close();
    await endpoint?.node.stop();
    await stack?.stop();
    await pcscd?.dispose();
  });

  it('an endpoint started before pcscd keeps running, retries, and finds the readers once pcscd is up', async () => {
    await pcscd.stop();
    const started = startEndpoint(true);
    // The binding would spin in its constructor while pcscd is down; the driver must not let it.
    const tick = performance.now();
    await new Promise((r) => setTimeout(r, 600));
    assert.ok(performance.now() - tick < 1500, 'the event loop kept running while pcscd was down');
    assert.equal(endpoint, undefined, 'no readers yet');
    await pcscd.start();
    await started;
    assert.deepEqual(
      endpoint!.driver.list().map((r) => r.reader),
      [`${READER} 00 00`, `${READER} 00 01`],
    );
  });

  it('nfc_reader limits taps to the readers whose name contains it', async () => {
    const driver = new PcscDriver({ apduTimeoutMs: APDU_TIMEOUT_MS, readerFilter: '00 01' });
    const reads: string[] = [];
    await driver.start({ nfc: (r) => reads.push(r.reader ?? ''), ble: () => undefined });
    try {
      await waitFor(() => driver.list().length === 1, { what: 'the one matching reader' });
      assert.deepEqual(
        driver.list().map((r) => r.reader),
        [`${READER} 00 01`],
      );
    } finally {
      await driver.stop();
    }
  });

  async function deliveredToNea(record: TapRecord) {
    assert.ok(record.result, `expected a decision, got ${JSON.stringify(record)}`);
    const event = await nea.next('tap', (m) => m.data.tapId === record.result!.tapId);
    assert.deepEqual(event.data.decision, record.result.decision);
    return record.result.decision;
  }

  it('a band on the reader: selected by AID, signs the challenge (proof format 2), granted', async () => {
    const { record, card } = await tapCard(bandCard(alice));
    const decision = await deliveredToNea(record);
    assert.equal(decision.outcome, 'granted');
    assert.equal(decision.identifiedBy, 'proof');
    assert.equal(decision.user?.sAMAccountName, 'alice');
    assert.equal(record.bandId, alice.bandId);
    assert.equal(record.reader, `${READER} 00 00`);
    assert.deepEqual(
      card.commands.map((c) => c[1]),
      [BAND_CARD_INS.select, BAND_CARD_INS.getBandId, BAND_CARD_INS.signChallenge],
    );
  });

  it('the second reader of the terminal takes taps too; a band policy refuses is refused', async () => {
    const { record } = await tapCard(bandCard(mallory), { slot: 1 });
    const decision = await deliveredToNea(record);
    assert.equal(record.reader, `${READER} 00 01`);
    assert.equal(decision.outcome, 'refused');
    assert.equal(decision.reason, 'user_not_active');
  });

  it('a UID badge: read with get data (FF CA), granted where policy allows UID taps; an unknown one refused', async () => {
    const { record } = await tapCard(uidBadge(BADGE_UID));
    assert.equal(record.uid, BADGE_UID);
    const decision = await deliveredToNea(record);
    assert.equal(decision.outcome, 'granted');
    assert.equal(decision.identifiedBy, 'uid');
    assert.equal(decision.user?.sAMAccountName, 'badge');
    const unknown = await deliveredToNea((await tapCard(uidBadge('04deadbeef0001'))).record);
    assert.equal(unknown.reason, 'unknown_band');
  });

  it('a band that is not authenticated answers 69 85 and the tap fails with that reason', async () => {
    const idle = SoftwareBand.generate();
    const { record } = await tapCard(bandCard(idle));
    assert.match(record.error ?? '', /6985 \(the band is not authenticated\)/);
  });

  it('a card whose application has another AID is not taken for a band: read as a badge, refused', async () => {
    const band = bandCard(alice);
    const otherAid = {
      atr: band.atr,
      process: (apdu: Buffer) => (apdu[1] === 0xa4 ? respond(SW.fileNotFound) : band.process(apdu)),
    };
    const { record, card } = await tapCard(otherAid);
    assert.equal(record.bandId, undefined);
    assert.equal(record.uid, '08a1b2c3');
    assert.equal((await deliveredToNea(record)).reason, 'unknown_band');
    assert.ok(!card.commands.some((c) => c[1] === BAND_CARD_INS.signChallenge), 'never asked to sign');
  });

  it('a garbled signature is refused bad_signature by the gateway', async () => {
    const { record } = await tapCard(bandCard(alice), {
      faults: {
        corrupt: (command, response) => {
          if (command[1] !== BAND_CARD_INS.signChallenge) return response;
          const garbled = Buffer.from(response);
          garbled[10] ^= 0xff;
          return garbled;
        },
      },
    });
    const decision = await deliveredToNea(record);
    assert.equal(decision.outcome, 'refused');
    assert.equal(decision.reason, 'bad_signature');
  });

  it('a card pulled off the reader while asked to sign: the tap fails, nothing reaches the application', async () => {
    const taps = nea.frames.filter((f) => f.type === 'tap').length;
    const { record } = await tapCard(bandCard(alice), {
      faults: { pullOn: (command) => command[1] === BAND_CARD_INS.signChallenge },
    });
    assert.match(record.error ?? '', /the band's answer failed/);
    assert.equal(record.result, undefined);
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(nea.frames.filter((f) => f.type === 'tap').length, taps);
  });

  it('a slow card: within nfc_apdu_timeout_ms it is granted, beyond it the tap fails saying so', async () => {
    const slowSign = (ms: number) => (command: Buffer) =>
      command[1] === BAND_CARD_INS.signChallenge ? ms : 0;
    const ok = await tapCard(bandCard(alice), { faults: { delayMs: slowSign(APDU_TIMEOUT_MS / 2) } });
    assert.equal((await deliveredToNea(ok.record)).outcome, 'granted');
    const late = await tapCard(bandCard(alice), { faults: { delayMs: slowSign(APDU_TIMEOUT_MS * 2) } });
    assert.match(late.record.error ?? '', new RegExp(`did not answer within ${APDU_TIMEOUT_MS} ms`));
    assert.equal(late.record.result, undefined);
  });

  it('legacy mode on (NYMI_NEA_SUPPORT_LEGACY_MODE unset or 1): a version 1 band is granted by policy', async () => {
    const { record, card } = await tapCard(bandCard(lena, { version: 1 }));
    const decision = await deliveredToNea(record);
    assert.equal(decision.outcome, 'granted');
    assert.equal(decision.user?.sAMAccountName, 'lena');
    const sign = card.commands.find((c) => c[1] === BAND_CARD_INS.signChallenge)!;
    assert.equal(sign[2], 1, 'asked for proof format 1, the band application version it reported');
  });

  it('legacy mode off (0): version 1 bands and UID badges are refused at the terminal with their own reason', async () => {
    await startEndpoint(false);
    const taps = nea.frames.filter((f) => f.type === 'tap').length;
    const legacyBand = await tapCard(bandCard(lena, { version: 1 }));
    assert.equal(legacyBand.record.refused?.reason, 'legacy_protocol');
    assert.match(legacyBand.record.refused?.message ?? '', /band protocol version 1/);
    assert.ok(
      !legacyBand.card.commands.some((c) => c[1] === BAND_CARD_INS.signChallenge),
      'never asked to sign',
    );
    const badge = await tapCard(uidBadge(BADGE_UID));
    assert.equal(badge.record.refused?.reason, 'legacy_protocol');
    assert.match(badge.record.refused?.message ?? '', /plain UID badge/);
    assert.equal(nea.frames.filter((f) => f.type === 'tap').length, taps, 'nothing reached the application');
    const current = await tapCard(bandCard(alice));
    assert.equal((await deliveredToNea(current.record)).outcome, 'granted');
    await startEndpoint(true);
  });

  it('pcscd restarted with other readers: the driver reconnects and follows the readers plugged in and out', async () => {
    const driver = endpoint!.driver;
    const names = () => driver.list().map((r) => r.reader);
    await pcscd.restartWith(['Tapgate Extra']);
    await waitFor(
      () => names().includes('Tapgate Extra 00 00') && !names().some((n) => n.startsWith(READER)),
      {
        what: 'the new reader, and the old one gone, after the pcscd restart',
        timeoutMs: 15_000,
      },
    );
    const { record } = await tapCard(bandCard(alice), { reader: 'Tapgate Extra' });
    assert.equal(record.reader, 'Tapgate Extra 00 00');
    assert.equal((await deliveredToNea(record)).outcome, 'granted');
    await pcscd.restartWith([]);
    await waitFor(() => names().length === 0, { what: 'no readers', timeoutMs: 15_000 });
    await pcscd.restartWith([READER]);
    await waitFor(() => names().includes(`${READER} 00 00`), { what: 'the reader back', timeoutMs: 15_000 });
    const again = await tapCard(bandCard(alice));
    assert.equal((await deliveredToNea(again.record)).outcome, 'granted');
  });
});
