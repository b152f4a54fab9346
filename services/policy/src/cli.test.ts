import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { exportBandPublicKeyJwk, exportBandPublicKeyPem, generateBandKeyPair } from '@tapgate/band';
import { startNats, type TestServer } from '@tapgate/testing';
import {
  startPolicy,
  startUserStatusDouble,
  type ApiBody,
  type PolicyHarness,
} from './testing/policy-harness';

const CLI = join(__dirname, 'cli.js');
const json = (text: string) => JSON.parse(text) as ApiBody;

/** Runs the CLI asynchronously (the API under test lives in this process, so it must not be blocked). */
function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { timeout: 20_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

describe('policy CLI', () => {
  let nats: TestServer;
  let policy: PolicyHarness;
  let userStatus: ReturnType<typeof startUserStatusDouble>;
  let common: string[];

  before(async () => {
    nats = await startNats();
    userStatus = startUserStatusDouble(nats.url, { unknown: ['ghost'] });
    await userStatus.ready();
    policy = await startPolicy(nats.url);
    common = ['--url', policy.url, '--token-file', join(policy.dir, 'admin.token')];
  });

  after(async () => {
    await policy?.close();
    await userStatus?.stop();
    await nats?.dispose();
  });

  it('terminal add prints the credential alone on stdout, once', async () => {
    const r = await cli([...common, 'terminal', 'add', 'cli-term', '--description', 'from the CLI']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^[A-Za-z0-9_-]{43}\n$/);
    assert.match(r.stderr, /cannot be shown again/);
    const list = await cli([...common, 'terminal', 'list']);
    assert.equal(list.code, 0, list.stderr);
    assert.equal(list.stdout.includes(r.stdout.trim()), false);
    assert.equal(json(list.stdout).items[0].description, 'from the CLI');
    const rotated = await cli([...common, 'terminal', 'rotate', 'cli-term']);
    assert.equal(rotated.code, 0, rotated.stderr);
    assert.notEqual(rotated.stdout, r.stdout);
    const mapped = await cli([
      ...common,
      'terminal',
      'remote-clients',
      'cli-term',
      '10.77.0.21',
      'thin07',
      'fd00::21',
    ]);
    assert.equal(mapped.code, 0, mapped.stderr);
    assert.deepEqual(json(mapped.stdout).remoteClients, {
      addresses: ['10.77.0.21', 'fd00::21'],
      names: ['THIN07'],
    });
    const unmapped = await cli([...common, 'terminal', 'remote-clients', 'cli-term']);
    assert.equal(unmapped.code, 0, unmapped.stderr);
    assert.equal('remoteClients' in json(unmapped.stdout), false);
  });

  it('enrolls from a private JWK file (sending only the public part), lists, suspends and reactivates', async () => {
    const { privateKey, publicKey } = generateBandKeyPair();
    const keyFile = join(policy.dir, 'band.jwk');
    writeFileSync(keyFile, JSON.stringify(privateKey.export({ format: 'jwk' })));
    const e = await cli([...common, 'enroll', 'cli-band', 'alice', '--key', keyFile]);
    assert.equal(e.code, 0, e.stderr);
    assert.deepEqual(json(e.stdout).publicKey, exportBandPublicKeyJwk(publicKey));

    const list = await cli([...common, 'list', '--user', 'alice']);
    assert.equal(list.code, 0, list.stderr);
    assert.deepEqual(
      json(list.stdout).items.map((i) => i.bandId),
      ['cli-band'],
    );

    const s = await cli([...common, 'suspend', 'cli-band']);
    assert.equal(s.code, 0, s.stderr);
    assert.equal(json(s.stdout).active, false);
    const r = await cli([...common, 'reactivate', 'cli-band']);
    assert.equal(json(r.stdout).active, true);

    const pemFile = join(policy.dir, 'band.pem');
    const next = generateBandKeyPair().publicKey;
    writeFileSync(pemFile, exportBandPublicKeyPem(next));
    const k = await cli([...common, 'rekey', 'cli-band', '--key', pemFile]);
    assert.equal(k.code, 0, k.stderr);
    assert.deepEqual(json(k.stdout).publicKey, exportBandPublicKeyJwk(next));
  });

  it('reports API errors with the code and field, exit 1', async () => {
    const unknown = await cli([
      ...common,
      'enroll',
      'cli-ghost',
      'ghost',
      '--key',
      exportBandPublicKeyJwk(generateBandKeyPair().publicKey).x,
    ]);
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /^error: 400 invalid_public_key: .* \(field publicKey\)$/m);
    const wrongToken = join(policy.dir, 'wrong.token');
    writeFileSync(wrongToken, 'not-the-admin-token-at-all');
    const denied = await cli(['--url', policy.url, '--token-file', wrongToken, 'list']);
    assert.equal(denied.code, 1);
    assert.match(denied.stderr, /401 unauthorized/);
  });

  it('explains usage errors, exit 2', async () => {
    for (const args of [
      [...common],
      [...common, 'frobnicate'],
      ['list'],
      [...common, 'enroll', 'b1'],
      [...common, '--bogus'],
    ]) {
      const r = await cli(args);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, /usage:/);
    }
  });
});
