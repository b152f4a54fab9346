import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { TapProof } from '@tapgate/contracts';
import { BandCard } from './band-card';
import {
  BAND_CARD_AID,
  BAND_CARD_CLA,
  BAND_CARD_INS,
  BandCardError,
  SW,
  identifyBandCard,
  parseResponse,
  selectApdu,
  signChallengeApdu,
  signWithBandCard,
  type Transmit,
} from './card-application';
import { exportBandPublicKeyRaw } from './keys';
import { verifyProof } from './proof';
import { SoftwareBand } from './software-band';

const CHALLENGE = 'Q2hhbGxlbmdlLWZvci10aGUtY2FyZC1mYWNlLTAx';

function wornBand(): SoftwareBand {
  const band = SoftwareBand.generate();
  band.clasp();
  band.authenticate();
  return band;
}

const transmitTo =
  (card: BandCard): Transmit =>
  async (apdu) =>
    card.process(apdu);

const sw = (response: Buffer) => parseResponse(response).sw;

describe('the band card application (terminal side against the software band card face)', () => {
  it('select, band id, and a format 2 proof over the challenge that verifies for kind nfc only', async () => {
    const band = wornBand();
    const transmit = transmitTo(new BandCard(band));
    const card = await identifyBandCard(transmit);
    assert.deepEqual(card, { bandId: band.bandId, version: 2 });
    const proof = await signWithBandCard(transmit, card, { challenge: CHALLENGE, terminalId: 'T-1' });
    assert.equal(TapProof.safeParse(proof).success, true);
    assert.equal(proof.format, 2);
    assert.equal(verifyProof(band.publicKey, band.bandId, proof, 'nfc'), true);
    assert.equal(verifyProof(band.publicKey, band.bandId, proof, 'ble'), false);
    assert.equal(verifyProof(band.publicKey, band.bandId, { ...proof, terminalId: 'T-2' }, 'nfc'), false);
  });

  it('a version 1 application signs proof format 1', async () => {
    const band = wornBand();
    const transmit = transmitTo(new BandCard(band, { version: 1 }));
    const card = await identifyBandCard(transmit);
    assert.equal(card?.version, 1);
    const proof = await signWithBandCard(transmit, card, { challenge: CHALLENGE, terminalId: 'T-1' });
    assert.equal(proof.format, undefined);
    assert.equal(verifyProof(band.publicKey, band.bandId, proof), true);
  });

  it('GET PUBLIC KEY answers the 65-byte uncompressed point', () => {
    const band = wornBand();
    const card = new BandCard(band);
    card.process(selectApdu());
    const r = parseResponse(card.process(Buffer.from([BAND_CARD_CLA, BAND_CARD_INS.getPublicKey, 0, 0, 0])));
    assert.equal(r.sw, SW.ok);
    assert.equal(r.data.toString('base64url'), exportBandPublicKeyRaw(band.publicKey));
  });

  it('another AID is not the band application: identify gives undefined, the card answers 6A82', async () => {
    const card = new BandCard(wornBand());
    assert.equal(sw(card.process(selectApdu(Buffer.from('A0000000030000', 'hex')))), SW.fileNotFound);
    const plainCard: Transmit = async () => Buffer.from([0x6a, 0x82]);
    assert.equal(await identifyBandCard(plainCard), undefined);
  });

  it('answers each documented status word', () => {
    const band = SoftwareBand.generate();
    const card = new BandCard(band);
    const getId = Buffer.from([BAND_CARD_CLA, BAND_CARD_INS.getBandId, 0, 0, 0]);
    assert.equal(sw(card.process(getId)), SW.conditionsNotSatisfied, 'nothing selected yet');
    assert.equal(sw(card.process(selectApdu())), SW.ok);
    assert.equal(sw(card.process(Buffer.from([0x90, BAND_CARD_INS.getBandId, 0, 0, 0]))), SW.claNotSupported);
    assert.equal(sw(card.process(Buffer.from([BAND_CARD_CLA, 0x77, 0, 0, 0]))), SW.insNotSupported);
    assert.equal(sw(card.process(Buffer.from([BAND_CARD_CLA]))), SW.wrongLength);
    const sign = signChallengeApdu({ challenge: CHALLENGE, terminalId: 'T-1', timestamp: 1 }, 2);
    assert.equal(sw(card.process(sign)), SW.conditionsNotSatisfied, 'not authenticated: it will not sign');
    band.clasp();
    band.authenticate();
    assert.equal(sw(card.process(sign)), SW.ok);
    const wrongFormat = Buffer.from(sign);
    wrongFormat[2] = 1;
    assert.equal(sw(card.process(wrongFormat)), SW.incorrectP1P2);
    const garbled = Buffer.from(sign);
    garbled[5 + 8] = 200; // terminal id length past the data
    assert.equal(sw(card.process(garbled)), SW.wrongData);
    card.reset();
    assert.equal(sw(card.process(getId)), SW.conditionsNotSatisfied, 'a reset card forgets the selection');
  });

  it('the terminal side turns a refusal or a short answer into BandCardError with the status word', async () => {
    const idle = SoftwareBand.generate();
    const transmit = transmitTo(new BandCard(idle));
    const card = (await identifyBandCard(transmit))!;
    await assert.rejects(
      signWithBandCard(transmit, card, { challenge: CHALLENGE, terminalId: 'T-1' }),
      (e: unknown) =>
        e instanceof BandCardError && e.sw === SW.conditionsNotSatisfied && /6985/.test(e.message),
    );
    const short: Transmit = async (apdu) =>
      apdu[1] === BAND_CARD_INS.signChallenge ? Buffer.from([1, 2, 3, 0x90, 0x00]) : transmit(apdu);
    await assert.rejects(
      signWithBandCard(short, card, { challenge: CHALLENGE, terminalId: 'T-1' }),
      /3 bytes, not a 64-byte signature/,
    );
    await assert.rejects(
      identifyBandCard(async () => Buffer.from([0x90])),
      /no status word/,
    );
    const badId: Transmit = async (apdu) =>
      apdu[1] === BAND_CARD_INS.getBandId ? Buffer.from('bad id\x90\x00', 'latin1') : transmit(apdu);
    await assert.rejects(identifyBandCard(badId), /invalid band id/);
  });

  it('never throws on random command APDUs (a card OS must answer everything)', () => {
    const card = new BandCard(wornBand());
    for (let i = 0; i < 2000; i++) {
      const apdu = randomBytes(i % 40);
      if (i % 3 === 0) card.process(selectApdu());
      const r = card.process(apdu);
      assert.ok(r.length >= 2);
    }
    assert.equal(BAND_CARD_AID.toString('hex'), 'f054415047415445');
  });
});
