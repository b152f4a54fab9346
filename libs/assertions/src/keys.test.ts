import assert from 'node:assert/strict';
import { createPrivateKey, generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { runCli } from './cli';
import { loadJose } from './jose';
import { ecThumbprint, generateSigningKeyFile, parseSigningKey, SigningKeyError } from './keys';
import { AssertionSigner } from './signer';

const dir = mkdtempSync(join(tmpdir(), 'tapgate-assertion-keys-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const ecKey = (curve = 'P-256') => generateKeyPairSync('ec', { namedCurve: curve }).privateKey;

describe('signing keys', () => {
  it('computes the RFC 7638 thumbprint jose computes', async () => {
    const { calculateJwkThumbprint } = await loadJose();
    const key = parseSigningKey(ecKey().export({ format: 'pem', type: 'pkcs8' }) as string, 'k');
    assert.equal(key.kid, await calculateJwkThumbprint(key.publicJwk, 'sha256'));
    assert.equal(key.kid, ecThumbprint(key.publicJwk));
    assert.equal(key.publicJwk.alg, 'ES256');
  });

  it('reads PKCS#8 PEM, SEC1 PEM and private JWK forms of one key to the same kid', () => {
    const k = ecKey();
    const pkcs8 = parseSigningKey(k.export({ format: 'pem', type: 'pkcs8' }) as string, 'a');
    const sec1 = parseSigningKey(k.export({ format: 'pem', type: 'sec1' }) as string, 'b');
    const jwk = parseSigningKey(JSON.stringify(k.export({ format: 'jwk' })), 'c');
    assert.equal(pkcs8.kid, sec1.kid);
    assert.equal(pkcs8.kid, jwk.kid);
  });

  it('refuses keys that cannot sign ES256, naming the file', () => {
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
    const cases: Array<[string, RegExp]> = [
      [ecKey('P-384').export({ format: 'pem', type: 'pkcs8' }) as string, /EC P-256.*got EC secp384r1/],
      [rsa.export({ format: 'pem', type: 'pkcs8' }) as string, /EC P-256.*got rsa/],
      [JSON.stringify({ kty: 'EC', crv: 'P-256', x: 'AA', y: 'AA' }), /without "d"/],
      ['hello', /neither a PEM private key nor a JWK/],
      ['-----BEGIN PRIVATE KEY-----\nnope\n-----END PRIVATE KEY-----\n', /not an unencrypted EC private key/],
      [
        ecKey().export({ format: 'pem', type: 'pkcs8', cipher: 'aes-256-cbc', passphrase: 'x' }) as string,
        /not an unencrypted EC private key/,
      ],
    ];
    for (const [text, problem] of cases) {
      assert.throws(
        () => parseSigningKey(text, '/etc/tapgate/k.pem'),
        (e: unknown) =>
          e instanceof SigningKeyError && e.source === '/etc/tapgate/k.pem' && problem.test(e.problem),
      );
    }
  });

  it('the signer fails at start on a missing file, no keys or the same key twice', () => {
    assert.throws(
      () => AssertionSigner.fromFiles([join(dir, 'missing.pem')]),
      /missing\.pem: cannot be read \(ENOENT\)/,
    );
    assert.throws(() => new AssertionSigner({ signingKeys: [] }), /no signing key configured/);
    const pem = createPrivateKey(ecKey().export({ format: 'pem', type: 'pkcs8' })).export({
      format: 'pem',
      type: 'pkcs8',
    }) as string;
    assert.throws(
      () =>
        new AssertionSigner({
          signingKeys: [
            { file: 'a.pem', key: pem },
            { file: 'b.pem', key: pem },
          ],
        }),
      /b\.pem: is the same key as a\.pem/,
    );
  });

  it('generates key files readable only by their owner, and never overwrites one', () => {
    const file = join(dir, 'new.pem');
    const { kid } = generateSigningKeyFile(file);
    assert.equal(statSync(file).mode & 0o777, 0o600);
    assert.equal(AssertionSigner.fromFiles([file]).kid, kid);
    assert.throws(() => generateSigningKeyFile(file), /EEXIST/);
  });

  it('CLI: new-key writes a key and prints its kid; jwks prints the public keys; bad usage exits 64', () => {
    const out: string[] = [];
    const err: string[] = [];
    const sink = (to: string[]) => ({ write: (s: string) => to.push(s) });
    const file = join(dir, 'cli.pem');
    assert.equal(runCli(['new-key', '--out', file], sink(out), sink(err)), 0);
    const kid = /kid (\S+)/.exec(out.join(''))?.[1];
    assert.ok(kid);
    assert.equal(runCli(['new-key', '--out', file], sink(out), sink(err)), 1);
    assert.match(err.join(''), /refusing to overwrite/);
    out.length = 0;
    writeFileSync(join(dir, 'second.pem'), ecKey().export({ format: 'pem', type: 'pkcs8' }));
    assert.equal(runCli(['jwks', file, join(dir, 'second.pem')], sink(out), sink(err)), 0);
    const jwks = JSON.parse(out.join('')) as { keys: Array<{ kid: string; d?: string }> };
    assert.equal(jwks.keys.length, 2);
    assert.equal(jwks.keys[0].kid, kid);
    assert.ok(
      jwks.keys.every((k) => k.d === undefined),
      'private parts are never printed',
    );
    assert.equal(runCli(['new-key'], sink(out), sink(err)), 64);
    assert.equal(runCli(['nope'], sink(out), sink(err)), 64);
  });
});
