import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { approach, hold, noise, RssiScript, seededRandom, silence, spike } from './rssi-script';

describe('RssiScript', () => {
  it('samples segments every intervalMs with linear ramps', () => {
    const s = RssiScript.fromSegments([approach(-90, -50, 500), hold(-50, 300), spike(-30)], {
      intervalMs: 100,
      startMs: 1000,
    });
    assert.deepEqual(s.points, [
      [1000, -90],
      [1100, -80],
      [1200, -70],
      [1300, -60],
      [1400, -50],
      [1500, -50],
      [1600, -50],
      [1700, -50],
      [1800, -30],
    ]);
    assert.equal(s.startMs, 1000);
    assert.equal(s.endMs, 1800);
  });

  it('is deterministic for a seed and differs between seeds', () => {
    const a = RssiScript.fromSegments([noise(-60, 5, 2000)], { seed: 9 });
    const b = RssiScript.fromSegments([noise(-60, 5, 2000)], { seed: 9 });
    const c = RssiScript.fromSegments([noise(-60, 5, 2000)], { seed: 10 });
    assert.deepEqual(a.points, b.points);
    assert.notDeepEqual(a.points, c.points);
    for (const [, r] of a.points) assert.ok(r >= -65 && r <= -55 && Number.isInteger(r));
    const rnd = seededRandom(1);
    for (let i = 0; i < 1000; i++) {
      const v = rnd();
      assert.ok(v >= 0 && v < 1);
    }
  });

  it('rssiAt: the current sample, undefined before the start and during silence', () => {
    const s = RssiScript.fromSegments([hold(-60, 300), silence(2000), hold(-40, 200)], { intervalMs: 100 });
    assert.equal(s.rssiAt(-1), undefined);
    assert.equal(s.rssiAt(150), -60);
    assert.equal(s.rssiAt(1500), undefined);
    assert.equal(s.rssiAt(2300), -40);
    assert.equal(s.rssiAt(2600), undefined);
    assert.equal(s.shifted(10_000).rssiAt(10_150), -60);
  });

  it('accepts hand-written points in any order and rejects non-numbers', () => {
    const s = new RssiScript([
      [200, -50],
      [0, -70],
    ]);
    assert.deepEqual(s.points[0], [0, -70]);
    assert.throws(() => new RssiScript([[0, Number.NaN]]), /finite/);
  });
});
