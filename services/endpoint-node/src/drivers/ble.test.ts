import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { BleTapDetector } from '@tapgate/band';
import { BLE_COMPANY_ID, decodeBandAdvert, encodeBandAdvert } from './ble-advert';
import { BleDriver, type BleScanner, type ScannedPeripheral } from './ble';
import type { BleSample } from './driver';

interface RecordedAdvert {
  t: number;
  address: string;
  rssi: number;
  mfg: string;
}

// Adverts in the shape of noble's `discover` events. They were synthesized (an approach, a neighbour's
// band, a phone, malformed and future-version adverts, an address rotation, leave and return), not
// captured from a radio: this machine has no Bluetooth controller.
const FIXTURE = join(__dirname, '../../fixtures/ble/approach-leave-return.json');
const recorded = (JSON.parse(readFileSync(FIXTURE, 'utf8')) as { adverts: RecordedAdvert[] }).adverts;

/** A noble stand-in: the adapter state and the scan calls, with adverts emitted from the fixture. */
class FakeNoble extends EventEmitter implements BleScanner {
  scans: Array<{ uuids?: string[]; duplicates?: boolean }> = [];
  stops = 0;
  constructor(public state: string) {
    super();
  }
  async startScanningAsync(uuids?: string[], duplicates?: boolean): Promise<void> {
    this.scans.push({ uuids, duplicates });
  }
  async stopScanningAsync(): Promise<void> {
    this.stops++;
  }
  power(state: string): void {
    this.state = state;
    this.emit('stateChange', state);
  }
  replay(adverts: RecordedAdvert[], clock: { now: number }): void {
    for (const a of adverts) {
      clock.now = a.t;
      const p: ScannedPeripheral = {
        address: a.address,
        rssi: a.rssi,
        advertisement: { manufacturerData: Buffer.from(a.mfg, 'hex') },
      };
      this.emit('discover', p);
    }
  }
}

function recordingSink() {
  const samples: BleSample[] = [];
  return {
    samples,
    sink: { nfc: () => assert.fail('the BLE driver reads no NFC'), ble: (s: BleSample) => samples.push(s) },
  };
}

describe('BLE band advert', () => {
  it('round-trips band id and wear state', () => {
    for (const state of ['unclasped', 'on_wrist', 'authenticated'] as const) {
      const data = encodeBandAdvert({ bandId: 'band-Qm9vZ2xlQmFuZDAx', state });
      assert.equal(data.readUInt16LE(0), BLE_COMPANY_ID);
      assert.deepEqual(decodeBandAdvert(data), { bandId: 'band-Qm9vZ2xlQmFuZDAx', state });
    }
  });

  it('ignores other companies, short data, unknown versions and states', () => {
    const good = encodeBandAdvert({ bandId: 'band-Qm9vZ2xlQmFuZDAx', state: 'authenticated' });
    assert.equal(decodeBandAdvert(good, 0x004c), undefined);
    assert.equal(decodeBandAdvert(good.subarray(0, good.length - 1)), undefined);
    assert.equal(decodeBandAdvert(undefined), undefined);
    const v2 = Buffer.from(good);
    v2[4] = 2;
    assert.equal(decodeBandAdvert(v2), undefined);
    const badState = Buffer.from(good);
    badState[5] = 3;
    assert.equal(decodeBandAdvert(badState), undefined);
    const badMagic = Buffer.from(good);
    badMagic[2] = 0;
    assert.equal(decodeBandAdvert(badMagic), undefined);
  });

  it('refuses to encode a band id that is not a derived one', () => {
    assert.throws(() => encodeBandAdvert({ bandId: 'uid-04a1b2', state: 'on_wrist' }), RangeError);
    assert.throws(() => encodeBandAdvert({ bandId: 'band-short', state: 'on_wrist' }), RangeError);
  });
});

describe('BleDriver', () => {
  it('turns recorded adverts into samples that tap once per approach', async () => {
    const noble = new FakeNoble('poweredOn');
    const clock = { now: 0 };
    const driver = new BleDriver({ scanner: () => noble, now: () => clock.now });
    const { samples, sink } = recordingSink();
    await driver.start(sink);
    assert.deepEqual(
      noble.scans,
      [{ uuids: [], duplicates: true }],
      'scans with duplicates: one advert = one sample',
    );

    noble.replay(recorded, clock);
    const phones = recorded.filter((a) => !a.mfg.startsWith('ffff')).length;
    assert.equal(
      driver.counts.ignored,
      phones + 3,
      'the phone and the three malformed band adverts are ignored',
    );
    assert.equal(driver.counts.samples, samples.length);
    assert.equal(samples.length, recorded.length - phones - 3);
    assert.deepEqual(
      new Set(samples.map((s) => s.bandId)),
      new Set(['band-Qm9vZ2xlQmFuZDAx', 'band-TmVpZ2hib3VyQjAy']),
    );
    assert.ok(
      samples.every((s) => s.sign === undefined),
      'an advert carries no signature',
    );
    assert.ok(samples.every((s, i) => i === 0 || s.atMs >= samples[i - 1].atMs));

    // The endpoint node feeds every sample to the BLE tap detector; with the guide's recommended -42 dBm:
    const detector = new BleTapDetector({ windowTap: 10, windowLong: 50, threshold: -42 });
    const taps = samples.filter((s) => detector.feed(s.bandId, s.rssi, s.atMs).tap);
    assert.deepEqual(
      taps.map((s) => s.bandId),
      ['band-Qm9vZ2xlQmFuZDAx', 'band-Qm9vZ2xlQmFuZDAx'],
      'the band taps on its approach and again on its return, across its address rotation; the neighbour never',
    );
    assert.ok(taps[0].atMs < 6000 && taps[1].atMs > 13500, `tap times ${taps.map((s) => s.atMs).join(', ')}`);
    await driver.stop();
  });

  it('waits for the adapter to power on, and stops cleanly', async () => {
    const noble = new FakeNoble('poweredOff');
    const { samples, sink } = recordingSink();
    const driver = new BleDriver({ scanner: () => noble });
    await driver.start(sink);
    assert.equal(noble.scans.length, 0);
    noble.power('poweredOn');
    await new Promise((r) => setImmediate(r));
    assert.equal(noble.scans.length, 1);
    await driver.stop();
    assert.equal(noble.stops, 1);
    assert.equal(noble.listenerCount('discover'), 0);
    assert.equal(noble.listenerCount('stateChange'), 0);
    noble.replay(recorded.slice(0, 5), { now: 0 });
    assert.equal(samples.length, 0, 'no samples after stop');
  });

  it('ignores out-of-range RSSI values', async () => {
    const noble = new FakeNoble('poweredOn');
    const { samples, sink } = recordingSink();
    const driver = new BleDriver({ scanner: () => noble });
    await driver.start(sink);
    const mfg = encodeBandAdvert({ bandId: 'band-Qm9vZ2xlQmFuZDAx', state: 'on_wrist' }).toString('hex');
    noble.replay(
      [127, Number.NaN, -128, -60].map((rssi, t) => ({ t, address: 'x', rssi, mfg })),
      { now: 0 },
    );
    assert.deepEqual(
      samples.map((s) => s.rssi),
      [-60],
    );
    await driver.stop();
  });
});
