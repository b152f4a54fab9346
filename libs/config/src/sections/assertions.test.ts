import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { after, describe, it } from 'node:test';
import { loadAgentConfig, redactConfig } from '../index';
import { assertConfigError, scratch } from '../test-helpers';

const pem = (curve = 'P-256') =>
  generateKeyPairSync('ec', { namedCurve: curve }).privateKey.export({
    format: 'pem',
    type: 'pkcs8',
  }) as string;

describe('[assertions] and [audit] sections', () => {
  const tmp = scratch('assertions-config');
  after(() => tmp.dispose());
  const load = (toml: string, env: NodeJS.ProcessEnv = {}) =>
    loadAgentConfig({ path: tmp.write('nymi_agent.toml', toml), env, sections: ['assertions', 'audit'] });
  const file = () => `${tmp.dir}/nymi_agent.toml`;

  it('defaults: no keys, issuer "tapgate", 60 s assertions; a single-replica audit stream without a cap', () => {
    const cfg = loadAgentConfig({ env: {}, sections: ['assertions', 'audit'] });
    assert.deepEqual(cfg.assertions, { signingKeys: [], issuer: 'tapgate', ttlSeconds: 60 });
    assert.deepEqual(cfg.audit, { maxBytes: 0, appendTimeoutMs: 5000, spoolMaxRecords: 10_000 });
  });

  it('reads PEM and JWK key files relative to the config file, first one first; keys are redacted', () => {
    const jwk = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'jwk' });
    tmp.write('keys/new.pem', pem());
    tmp.write('keys/old.jwk', JSON.stringify(jwk));
    const cfg = load(`
[assertions]
signing_key_files = ["keys/new.pem", "keys/old.jwk"]
issuer = "tapgate-plant-3"
ttl_seconds = 30
[audit]
max_bytes = 10737418240
append_timeout_ms = 2000
spool_dir = "spool"
spool_max_records = 500
`);
    assert.deepEqual(
      cfg.assertions.signingKeys.map((k) => k.file),
      [`${tmp.dir}/keys/new.pem`, `${tmp.dir}/keys/old.jwk`],
    );
    assert.match(cfg.assertions.signingKeys[0].key, /BEGIN PRIVATE KEY/);
    assert.equal(cfg.assertions.issuer, 'tapgate-plant-3');
    assert.equal(cfg.assertions.ttlSeconds, 30);
    assert.deepEqual(cfg.audit, {
      maxBytes: 10737418240,
      appendTimeoutMs: 2000,
      spoolDir: `${tmp.dir}/spool`,
      spoolMaxRecords: 500,
    });
    const shown = JSON.stringify(redactConfig(cfg));
    assert.ok(!shown.includes('PRIVATE KEY') && !shown.includes(String(jwk.d)), shown);
  });

  it('takes key files from TAPGATE_ASSERTIONS_SIGNING_KEY_FILES (comma-separated)', () => {
    const a = tmp.write('env-a.pem', pem());
    const b = tmp.write('env-b.pem', pem());
    const cfg = loadAgentConfig({
      env: { TAPGATE_ASSERTIONS_SIGNING_KEY_FILES: `${a}, ${b}` },
      sections: ['assertions', 'audit'],
    });
    assert.deepEqual(
      cfg.assertions.signingKeys.map((k) => k.file),
      [a, b],
    );
  });

  it('fails at start on a missing, non-P-256, garbage or repeated key file', () => {
    assertConfigError(() => load('[assertions]\nsigning_key_files = ["nope.pem"]\n'), {
      file: file(),
      key: '[assertions].signing_key_files',
      problem: /cannot read .*nope\.pem: no such file/,
    });
    tmp.write('p384.pem', pem('P-384'));
    assertConfigError(() => load('[assertions]\nsigning_key_files = ["p384.pem"]\n'), {
      file: file(),
      key: '[assertions].signing_key_files',
      problem: /p384\.pem is not an EC P-256 key/,
    });
    tmp.write('junk.pem', 'hello');
    assertConfigError(() => load('[assertions]\nsigning_key_files = ["junk.pem"]\n'), {
      file: file(),
      key: '[assertions].signing_key_files',
      problem: /junk\.pem is not an unencrypted EC private key/,
    });
    const twin = pem();
    tmp.write('a.pem', twin);
    tmp.write('b.pem', twin);
    assertConfigError(() => load('[assertions]\nsigning_key_files = ["a.pem", "b.pem"]\n'), {
      file: file(),
      key: '[assertions].signing_key_files',
      problem: /b\.pem holds the same key as .*a\.pem/,
    });
  });

  it('rejects bad values and unknown keys', () => {
    assertConfigError(() => load('[assertions]\nsigning_key_files = "k.pem"\n'), {
      file: file(),
      key: '[assertions].signing_key_files',
      problem: 'must be a list of file paths (got "k.pem")',
    });
    assertConfigError(() => load('[assertions]\nttl_seconds = 3600\n'), {
      file: file(),
      key: '[assertions].ttl_seconds',
      problem: 'must be an integer 5-600 (got 3600)',
    });
    // Replicas moved to [nats] replicas (one setting for every JetStream asset): the old key is refused.
    assertConfigError(() => load('[audit]\nreplicas = 3\n'), {
      file: file(),
      key: '[audit].replicas',
      problem: /unknown key/,
    });
    assertConfigError(() => load('[audit]\nmax_age = 30\n'), {
      file: file(),
      key: '[audit].max_age',
      problem: /unknown key \(known: max_bytes, append_timeout_ms, spool_dir, spool_max_records\)/,
    });
  });
});
