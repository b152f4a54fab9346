// The k6 tap proof under Node 24 (global WebCrypto), checked by libs/band's verifier, and the scenario's
// terminal logic (k6/lib with k6 stand-ins) against the whole platform: enrolled taps are granted.
import { strict as assert } from 'node:assert';
import type { webcrypto } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { importBandPublicKey, proofMessage, verifyProof } from '@tapgate/band';
import type { TapProof } from '@tapgate/contracts';
import { Platform, waitFor } from '@tapgate/testing';
import { importRepoModule, useK6StandIns } from './k6-stand-ins';

type Jwk = Record<string, string>;
interface SignRequest {
  privateKey?: webcrypto.CryptoKey;
  challenge?: string;
  terminalId: string;
  bandId: string;
  timestamp: number;
}
interface ProtocolModule {
  base64url(bytes: ArrayBuffer | Uint8Array): string;
  proofMessage(request: SignRequest): Uint8Array;
  generateBandKey(): Promise<{ privateJwk: Jwk; publicJwk: Jwk }>;
  importBandKey(privateJwk: Jwk): Promise<webcrypto.CryptoKey>;
  signTap(request: SignRequest): Promise<TapProof | undefined>;
}

const CHALLENGE = 'q0Xk3v9Jd2l5bA8Zr1Yw7uT4sE6pN0mK2hG5fD8cB1a';

describe('k6 signTap (docs/protocol.md §5)', () => {
  let p: ProtocolModule;
  let band: { privateJwk: Jwk; publicJwk: Jwk };
  let key: webcrypto.CryptoKey;
  before(async () => {
    p = await importRepoModule<ProtocolModule>('k6/lib/protocol.js');
    band = await p.generateBandKey();
    key = await p.importBandKey(band.privateJwk);
  });

  const request = (over: Partial<SignRequest> = {}): SignRequest => ({
    privateKey: key,
    challenge: CHALLENGE,
    terminalId: 'k6-t7',
    bandId: 'k6-b7',
    timestamp: Date.now(),
    ...over,
  });

  it('signs the bytes libs/band defines', () => {
    const fields = { challenge: CHALLENGE, terminalId: 'k6-t7', bandId: 'k6-b7', timestamp: 1795969899123 };
    assert.deepEqual(Buffer.from(p.proofMessage(fields)), proofMessage(fields));
    for (let n = 0; n < 70; n++) {
      const bytes = Buffer.from(Array.from({ length: n }, (_, i) => (i * 97 + n * 13) & 255));
      assert.equal(p.base64url(bytes), bytes.toString('base64url'), `${n} bytes`);
    }
    assert.throws(() => p.proofMessage({ ...fields, bandId: 'b\nx' }), /bandId/);
    assert.throws(() => p.proofMessage({ ...fields, timestamp: 1.5 }), /timestamp/);
  });

  it('makes a proof verifyProof accepts, and a tampered one it rejects', async () => {
    const publicKey = importBandPublicKey(band.publicJwk);
    const req = request();
    const proof = await p.signTap(req);
    assert.ok(proof);
    assert.deepEqual(Object.keys(proof).sort(), ['challenge', 'signature', 'terminalId', 'timestamp']);
    assert.equal(proof.signature.length, 86);
    assert.equal(verifyProof(publicKey, req.bandId, proof), true);

    const flipped = proof.signature[10] === 'A' ? 'B' : 'A';
    const tampered: TapProof[] = [
      { ...proof, timestamp: proof.timestamp + 1 },
      { ...proof, terminalId: 'k6-t8' },
      { ...proof, challenge: CHALLENGE.replace('q', 'r') },
      { ...proof, signature: proof.signature.slice(0, 10) + flipped + proof.signature.slice(11) },
    ];
    for (const bad of tampered) assert.equal(verifyProof(publicKey, req.bandId, bad), false);
    assert.equal(verifyProof(publicKey, 'k6-b8', proof), false);
    const other = await p.generateBandKey();
    assert.equal(verifyProof(importBandPublicKey(other.publicJwk), req.bandId, proof), false);
  });

  it('sends no proof without a key or a challenge (the unenrolled mode)', async () => {
    assert.equal(await p.signTap(request({ privateKey: undefined })), undefined);
    assert.equal(await p.signTap(request({ challenge: undefined })), undefined);
  });

  it('keeps the private key out of what it enrolls', () => {
    assert.deepEqual(Object.keys(band.publicJwk).sort(), ['crv', 'kty', 'x', 'y']);
    assert.ok(band.privateJwk.d);
  });
});

interface Sample {
  value: number;
  tags: Record<string, string>;
}
interface TerminalLike {
  connect(): void;
  ready(): boolean;
  tap(): Promise<void>;
  close(): void;
}
type Settings = Record<string, unknown>;
interface ScenarioModules {
  readSettings(env: Record<string, string>, defaults: object): Settings;
  setupTerminals(
    settings: Settings,
    fileCredentials: object,
  ): Promise<{ credentials: Record<string, string>; bandKeys: Record<string, Jwk>; appCredential: string }>;
  Terminal: new (
    index: number,
    settings: Settings,
    credentials: Record<string, string>,
    bandKeys: Record<string, Jwk>,
    appCredential: string,
  ) => TerminalLike;
  samples: Map<string, Sample[]>;
  checkResults: { name: string; ok: boolean }[];
}

const ENDPOINTS = 3;

describe('k6/lib terminals against the platform (k6 stand-ins under Node)', () => {
  let platform: Platform;
  let dir: string;
  let m: ScenarioModules;
  let terminals: TerminalLike[] = [];
  before(async () => {
    useK6StandIns();
    m = {
      ...(await importRepoModule<Pick<ScenarioModules, 'readSettings'>>('k6/lib/settings.js')),
      ...(await importRepoModule<Pick<ScenarioModules, 'setupTerminals'>>('k6/lib/setup.js')),
      ...(await importRepoModule<Pick<ScenarioModules, 'Terminal'>>('k6/lib/terminal.js')),
      ...(await importRepoModule<Pick<ScenarioModules, 'samples'>>('tests/deploy/k6-stand-ins/metrics.mjs')),
      ...(await importRepoModule<Pick<ScenarioModules, 'checkResults'>>('tests/deploy/k6-stand-ins/k6.mjs')),
    };
    dir = mkdtempSync(join(tmpdir(), 'tapgate-k6-'));
    platform = await Platform.start({
      dir,
      logLevel: 'warn',
      users: Array.from({ length: ENDPOINTS }, (_, i) => ({
        sAMAccountName: `k6user${i}`,
        displayName: `k6 user ${i}`,
        state: 'active' as const,
      })),
    });
  });
  after(async () => {
    // Open sockets and timers would keep the test process alive after a failure.
    for (const t of terminals) t.close();
    await platform?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const count = (name: string, where: (s: Sample) => boolean = () => true): number =>
    (m.samples.get(name) ?? []).filter(where).reduce((sum, s) => sum + s.value, 0);

  it('enrolls through the policy API and gets every signed tap granted', async () => {
    const settings = m.readSettings(
      {
        TAPGATE_URL: `ws://127.0.0.1:${platform.ports.agent}`,
        NEA_URL: `ws://127.0.0.1:${platform.ports.webapi}`,
        ENDPOINTS: String(ENDPOINTS),
        TAPGATE_ADMIN_TOKEN: platform.adminToken,
        TAPGATE_POLICY_URL: `http://127.0.0.1:${platform.ports.policyHttp}`,
        TERMINAL_PREFIX: 'k6it',
      },
      { endpoints: ENDPOINTS, rate: 1, duration: '1s' },
    );
    // Twice: a re-run against the same platform rotates credentials and re-keys the bands.
    await m.setupTerminals(settings, {});
    const data = await m.setupTerminals(settings, {});
    assert.equal(Object.keys(data.bandKeys).length, ENDPOINTS);

    terminals = Array.from(
      { length: ENDPOINTS },
      (_, i) => new m.Terminal(i, settings, data.credentials, data.bandKeys, data.appCredential),
    );
    for (const t of terminals) t.connect();
    await waitFor(() => terminals.every((t) => t.ready()), { what: 'sockets welcomed' });
    // The adverts sent on welcome reach presence asynchronously.
    await new Promise((r) => setTimeout(r, 500));

    let expected = 0;
    for (let round = 0; round < 3; round++) {
      for (const t of terminals) await t.tap();
      expected += ENDPOINTS;
      await waitFor(() => count('tapgate_tap_decisions') === expected, { what: `${expected} decisions` });
    }
    // Two taps at once on one terminal: the second finds no fresh challenge and asks for one.
    await Promise.all([terminals[0].tap(), terminals[0].tap()]);
    expected += 2;
    await waitFor(() => count('tapgate_tap_decisions') === expected, { what: `${expected} decisions` });
    await new Promise((r) => setTimeout(r, 200)); // the last tap.result

    const refused = (m.samples.get('tapgate_tap_decisions') ?? []).filter(
      (s) => s.tags.outcome !== 'granted',
    );
    assert.deepEqual(refused, [], 'every tap granted');
    assert.equal(
      count('tapgate_tap_decisions', (s) => s.tags.outcome === 'granted'),
      expected,
    );
    assert.equal(count('tapgate_taps_unsigned'), 0);
    assert.equal((m.samples.get('tapgate_tap_result_ms') ?? []).length, expected);
    for (const t of terminals) t.close();
    terminals = [];
    assert.ok(m.checkResults.length > 0 && m.checkResults.every((c) => c.ok), JSON.stringify(m.checkResults));
    const latencies = (m.samples.get('tapgate_tap_to_nea_ms') ?? [])
      .map((s) => s.value)
      .sort((a, b) => a - b);
    console.log(`k6 terminals under Node: ${expected} taps granted; tap->NEA ms ${latencies.join(' ')}`);
  });
});
