import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { BleTapDetector, type BleObservation, type BleTapDetectorOptions } from './ble-tap-detector';
import { approach, hold, leave, noise, RssiScript, silence, spike, type RssiPoint } from './rssi-script';

/** nbe.toml defaults with the recommended threshold. */
const RECOMMENDED: BleTapDetectorOptions = { windowTap: 10, windowLong: 50, threshold: -42 };

function replay(points: readonly RssiPoint[], opts: BleTapDetectorOptions = RECOMMENDED, bandId = 'band-1') {
  const detector = new BleTapDetector(opts);
  const observations: (BleObservation & { at: number })[] = [];
  for (const [at, rssi] of points) observations.push({ ...detector.feed(bandId, rssi, at), at });
  return { detector, observations, taps: observations.filter((o) => o.tap).map((o) => o.at) };
}

/** A capture from a bench test at a reader (100 ms advert period): a band resting ~40 cm away. */
const RECORDED_NEAR_MISS = [
  -47, -44, -49, -45, -41, -46, -48, -43, -45, -50, -44, -40, -47, -46, -43, -48, -45, -42, -46, -44, -49,
  -45, -41, -47, -43, -46, -48, -44, -45, -39, -47, -46, -44, -43, -48, -45, -46, -42, -47, -44, -45, -49,
  -43, -46, -41, -45, -48, -44, -46, -45,
].map((rssi, i): RssiPoint => [i * 100, rssi]);

describe('BleTapDetector: must not tap', () => {
  it('a recorded sequence hovering just below the threshold, with single samples above it', () => {
    assert.ok(
      RECORDED_NEAR_MISS.some(([, r]) => r >= -42),
      'the capture does cross the threshold sample-wise',
    );
    const { taps, observations } = replay(RECORDED_NEAR_MISS);
    assert.deepEqual(taps, []);
    assert.ok(Math.max(...observations.map((o) => o.tapAverage ?? -127)) < -42);
  });

  it('seeded noise around -47 dBm (+-6 dB) for 30 s, twenty different seeds', () => {
    for (let seed = 1; seed <= 20; seed++) {
      const script = RssiScript.fromSegments([noise(-47, 6, 30_000)], { seed });
      assert.ok(script.points.some(([, r]) => r >= -42));
      assert.deepEqual(replay(script.points).taps, [], `seed ${seed}`);
    }
  });

  it('spikes: a single -30 dBm sample in -70 dBm noise, every 2 s', () => {
    const segments = [];
    for (let i = 0; i < 15; i++) segments.push(noise(-70, 3, 2000), spike(-30));
    const script = RssiScript.fromSegments(segments, { seed: 7 });
    assert.equal(script.points.filter(([, r]) => r === -30).length, 15);
    assert.deepEqual(replay(script.points).taps, []);
  });

  it('a spike as the first sample heard (the window is not full yet)', () => {
    const script = RssiScript.fromSegments([
      spike(-30),
      noise(-70, 3, 3000),
      silence(4000),
      spike(-25),
      noise(-72, 3, 3000),
    ]);
    assert.deepEqual(replay(script.points).taps, []);
  });

  it('a burst of half a tap window', () => {
    const script = RssiScript.fromSegments([noise(-70, 2, 3000), hold(-30, 500), noise(-70, 2, 3000)]);
    assert.deepEqual(replay(script.points).taps, []);
  });

  it('threshold 0 (BLE tap off) never taps, even pressed against the reader', () => {
    const script = RssiScript.fromSegments([approach(-90, -20, 5000), hold(-20, 10_000)], { jitterDb: 2 });
    const { taps, detector, observations } = replay(script.points, { ...RECOMMENDED, threshold: 0 });
    assert.equal(detector.enabled, false);
    assert.deepEqual(taps, []);
    assert.equal(observations.at(-1)!.present, true, 'presence still works with taps off');
  });
});

describe('BleTapDetector: taps', () => {
  it('a slow approach (12 s, noisy) taps exactly once, after the window fills at the reader', () => {
    const script = RssiScript.fromSegments([approach(-90, -36, 12_000), hold(-36, 8000)], {
      seed: 3,
      jitterDb: 3,
    });
    const { taps, observations } = replay(script.points);
    assert.equal(taps.length, 1);
    const tapAt = observations.find((o) => o.tap)!;
    assert.ok(tapAt.tapAverage! >= -42);
    assert.ok(tapAt.at > 9000, `tapped at ${tapAt.at} ms, before the band was close`);
  });

  it('hovering around the threshold after a tap does not tap again (hysteresis)', () => {
    const script = RssiScript.fromSegments([approach(-80, -40, 4000), noise(-42, 4, 20_000)], { seed: 11 });
    assert.equal(replay(script.points).taps.length, 1);
  });

  it('approach, leave, approach taps twice', () => {
    const script = RssiScript.fromSegments(
      [
        approach(-85, -36, 4000),
        hold(-36, 2000),
        leave(-36, -75, 4000),
        hold(-75, 2000),
        approach(-75, -36, 4000),
        hold(-36, 2000),
      ],
      { seed: 5, jitterDb: 2 },
    );
    const { taps } = replay(script.points);
    assert.equal(taps.length, 2);
    assert.ok(taps[1] - taps[0] > 6000);
  });

  it('leaving only a little (still within the hysteresis) and coming back taps once', () => {
    const script = RssiScript.fromSegments([
      approach(-80, -36, 4000),
      hold(-36, 2000),
      hold(-46, 3000),
      hold(-36, 3000),
    ]);
    assert.equal(replay(script.points).taps.length, 1);
  });

  it('going out of range (no adverts for absenceMs) re-arms', () => {
    const script = RssiScript.fromSegments([hold(-38, 2000), silence(5000), hold(-38, 2000)]);
    const { taps } = replay(script.points);
    assert.equal(taps.length, 2);
  });

  it('tracks bands independently', () => {
    const detector = new BleTapDetector(RECOMMENDED);
    let tapsA = 0;
    let tapsB = 0;
    for (let i = 0; i < 40; i++) {
      if (detector.feed('band-a', -38, i * 100).tap) tapsA++;
      if (detector.feed('band-b', -60, i * 100).tap) tapsB++;
    }
    assert.equal(tapsA, 1);
    assert.equal(tapsB, 0);
    assert.equal(detector.trackedBands, 2);
    assert.deepEqual(detector.sweep(3900 + 3000).sort(), ['band-a', 'band-b']);
    assert.equal(detector.trackedBands, 0);
  });
});

describe('BleTapDetector: proximity', () => {
  it('trend follows the long window: approaching, steady, leaving; present/away', () => {
    const script = RssiScript.fromSegments(
      [approach(-95, -50, 8000), hold(-50, 8000), leave(-50, -95, 8000)],
      {
        seed: 2,
        jitterDb: 2,
      },
    );
    const { observations, detector } = replay(script.points);
    const at = (ms: number) => observations.find((o) => o.at >= ms)!;
    assert.equal(at(7900).trend, 'approaching');
    assert.equal(at(15_900).trend, 'steady');
    assert.equal(at(15_900).present, true);
    assert.equal(at(23_900).trend, 'leaving');
    assert.equal(at(0).present, false);
    assert.equal(detector.isPresent('band-1', 23_900), false);
    assert.equal(
      detector.isPresent('band-1', 16_000 + 100_000),
      false,
      'silent for longer than absenceMs = away',
    );
  });

  it('validates its options like nbe.toml does', () => {
    assert.throws(
      () => new BleTapDetector({ ...RECOMMENDED, threshold: 5 }),
      /threshold must be an integer -127..0/,
    );
    assert.throws(() => new BleTapDetector({ ...RECOMMENDED, windowTap: 0 }), /windowTap/);
    assert.throws(
      () => new BleTapDetector({ ...RECOMMENDED, windowLong: 5 }),
      /windowLong must be an integer 10../,
    );
    assert.throws(() => new BleTapDetector({ ...RECOMMENDED, hysteresisDb: 0 }), /hysteresisDb/);
    assert.throws(() => new BleTapDetector(RECOMMENDED).feed('b', Number.NaN, 0), /finite/);
  });
});
