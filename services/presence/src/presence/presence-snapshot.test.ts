import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BandPresence } from '@tapgate/contracts';
import { parseEvaluation, toBandPresence, type Snapshot } from './presence-snapshot';
import { checkPresenceSettings, DEFAULT_PRESENCE_SETTINGS } from './presence-settings';

const snap: Snapshot = {
  level: 'likely',
  auth: true,
  strongest: 'T2',
  terminals: [
    ['T2', -48.26],
    ['T1', -61.04],
  ],
  last: Date.UTC(2025, 0, 1, 12),
};

describe('presence snapshots', () => {
  it('become contract BandPresence with RSSI to 0.1 dB', () => {
    const band = toBandPresence('band-1', snap);
    assert.equal(BandPresence.safeParse(band).success, true);
    assert.deepEqual(band, {
      bandId: 'band-1',
      presence: 'likely',
      authenticated: true,
      terminals: [
        { terminalId: 'T2', rssi: -48.3 },
        { terminalId: 'T1', rssi: -61 },
      ],
      lastSeen: '2025-01-01T12:00:00.000Z',
    });
  });

  it('parses script replies, rejecting anything else', () => {
    assert.deepEqual(parseEvaluation([0, '', '']), { changed: false, before: undefined, after: undefined });
    assert.deepEqual(parseEvaluation([1, '', JSON.stringify(snap)]), {
      changed: true,
      before: undefined,
      after: snap,
    });
    assert.throws(() => parseEvaluation('OK'), /unexpected reply/);
  });

  it('settings refuse a TTL the "no" level could not outlive, and other nonsense', () => {
    assert.equal(checkPresenceSettings(DEFAULT_PRESENCE_SETTINGS), DEFAULT_PRESENCE_SETTINGS);
    assert.throws(
      () => checkPresenceSettings({ ...DEFAULT_PRESENCE_SETTINGS, stateTtlMs: 60_000 }),
      /stateTtlMs/,
    );
    assert.throws(() => checkPresenceSettings({ ...DEFAULT_PRESENCE_SETTINGS, ewmaAlpha: 0 }), /ewmaAlpha/);
    assert.throws(() => checkPresenceSettings({ ...DEFAULT_PRESENCE_SETTINGS, ewmaAlpha: 1.5 }), /ewmaAlpha/);
  });
});
