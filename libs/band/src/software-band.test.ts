import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createPrivateKey } from 'node:crypto';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Advert, BAND_ID_PATTERN } from '@tapgate/contracts';
import { BandStateError, SoftwareBand } from './software-band';
import { signProof, verifyProof } from './proof';

const tap = { challenge: 'Q2hhbGxlbmdlQ2hhbGxlbmdl', terminalId: 'T1', timestamp: 1_700_000_000_000 };

describe('SoftwareBand states', () => {
  it('starts unclasped, advertises unclasped and does not answer taps', () => {
    const band = SoftwareBand.generate();
    assert.match(band.bandId, BAND_ID_PATTERN);
    assert.equal(band.state, 'unclasped');
    assert.equal(band.advert(-60, 0).state, 'unclasped');
    assert.equal(band.answerTap(tap), undefined);
  });

  it('clasp -> on_wrist -> authenticate -> signs; removal loses authentication at once', () => {
    const band = SoftwareBand.generate('band-demo-1');
    band.clasp();
    assert.equal(band.state, 'on_wrist');
    assert.equal(band.advert(-50).state, 'on_wrist');
    assert.equal(band.answerTap(tap), undefined, 'on wrist but not authenticated: no answer');
    band.authenticate();
    assert.equal(band.state, 'authenticated');
    assert.equal(band.advert(-50).state, 'authenticated');
    const proof = band.answerTap(tap);
    assert.ok(proof);
    assert.equal(verifyProof(band.publicKey, band.bandId, proof), true);

    band.remove();
    assert.equal(band.state, 'removed');
    assert.equal(band.authenticated, false);
    assert.equal(band.advert(-50).state, 'unclasped');
    assert.equal(band.answerTap(tap), undefined);
    band.clasp();
    assert.equal(band.state, 'on_wrist', 'clasping again needs a new fingerprint');
    band.unclasp();
    assert.equal(band.state, 'removed');
  });

  it('cannot authenticate off the wrist', () => {
    const band = SoftwareBand.generate();
    assert.throws(() => band.authenticate(), BandStateError);
    band.clasp();
    band.remove();
    assert.throws(() => band.authenticate(), /clasp it/);
  });

  it('emits schema-valid adverts with clamped integer RSSI', () => {
    const band = SoftwareBand.generate();
    const a = band.advert(-200.4, new Date('2025-01-01T00:00:00Z'));
    assert.equal(Advert.safeParse(a).success, true);
    assert.equal(a.rssi, -127);
    assert.equal(a.seenAt, '2025-01-01T00:00:00.000Z');
    assert.equal(band.advert(-41.6).rssi, -42);
    assert.throws(() => band.advert(Number.NaN), /finite/);
  });

  it('tests can still sign for a band that is not authenticated, from its private JWK', () => {
    const band = SoftwareBand.generate();
    const key = createPrivateKey({ key: band.privateJwk(), format: 'jwk' });
    const proof = signProof(key, { ...tap, bandId: band.bandId });
    assert.equal(band.answerTap(tap), undefined);
    assert.equal(verifyProof(band.publicKey, band.bandId, proof), true);
  });
});

describe('SoftwareBand key files', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'tapgate-band-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('creates the file once (mode 0600) and loads the same band after', () => {
    const file = join(dir, 'bands', 'alice.jwk');
    const first = SoftwareBand.loadOrCreate(file, 'band-alice');
    assert.equal(statSync(file).mode & 0o777, 0o600);
    const again = SoftwareBand.loadOrCreate(file);
    assert.equal(again.bandId, 'band-alice');
    assert.deepEqual(again.publicKey.export({ format: 'jwk' }), first.publicKey.export({ format: 'jwk' }));
    again.clasp();
    again.authenticate();
    assert.equal(verifyProof(first.publicKey, 'band-alice', again.answerTap(tap)!), true);
  });

  it('derives a stable id from the key when none is given', () => {
    const file = join(dir, 'anon.jwk');
    const a = SoftwareBand.loadOrCreate(file);
    assert.equal(SoftwareBand.loadOrCreate(file).bandId, a.bandId);
    assert.match(a.bandId, /^band-[A-Za-z0-9_-]{16}$/);
  });

  it('refuses a file for another band, bad JSON and a public-only key', () => {
    const file = join(dir, 'bob.jwk');
    SoftwareBand.loadOrCreate(file, 'band-bob');
    assert.throws(() => SoftwareBand.loadOrCreate(file, 'band-carol'), /holds band band-bob, not band-carol/);
    writeFileSync(join(dir, 'bad.jwk'), '{nope');
    assert.throws(() => SoftwareBand.loadOrCreate(join(dir, 'bad.jwk')), /not JSON/);
    const pub = SoftwareBand.generate().publicKey.export({ format: 'jwk' });
    assert.throws(() => SoftwareBand.fromJwk(pub), /private EC P-256 JWK/);
    assert.throws(() => SoftwareBand.generate('bad id!'), /invalid band id/);
  });
});
