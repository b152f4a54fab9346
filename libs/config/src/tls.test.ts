import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { makeTestPki, type TestPki } from '@tapgate/testing';
import { spawnSync } from 'node:child_process';
import { loadAgentConfig, redactConfig } from './index';
import { assertConfigError, scratch } from './test-helpers';

describe('loadAgentConfig: wss listeners and PEM files', () => {
  const tmp = scratch('tls');
  let pki: TestPki;
  before(async () => {
    pki = await makeTestPki(join(tmp.dir, 'pki'));
  });
  after(() => tmp.dispose());

  const wss = (
    section: 'agent' | 'webapi',
    files: { ca?: string; cert?: string; key?: string; serverName?: string; crl?: string },
  ) =>
    [
      `[${section}]`,
      'protocol = "wss"',
      files.serverName === undefined ? '' : `server_name = "${files.serverName}"`,
      files.crl === undefined ? '' : `crlfile = "${files.crl}"`,
      files.ca === undefined ? '' : `cacertfile = "${files.ca}"`,
      files.cert === undefined ? '' : `certfile = "${files.cert}"`,
      files.key === undefined ? '' : `keyfile = "${files.key}"`,
      '',
    ].join('\n');
  const good = () => ({ ca: pki.ca.certFile, cert: pki.server.certFile, key: pki.server.keyFile });

  it('loads a valid wss config on both ports, with paths relative to the file', () => {
    mkdirSync(join(tmp.dir, 'site', 'certs'), { recursive: true });
    copyFileSync(pki.ca.certFile, join(tmp.dir, 'site', 'certs', 'ca.pem'));
    copyFileSync(pki.server.certFile, join(tmp.dir, 'site', 'certs', 'server.pem'));
    copyFileSync(pki.server.keyFile, join(tmp.dir, 'site', 'certs', 'server-key.pem'));
    const rel = { ca: 'certs/ca.pem', cert: 'certs/server.pem', key: 'certs/server-key.pem' };
    const file = tmp.write('site/nymi_agent.toml', wss('agent', rel) + wss('webapi', rel));
    const cfg = loadAgentConfig({ path: file, env: {} });
    for (const listener of [cfg.agent, cfg.webapi]) {
      assert.equal(listener.protocol, 'wss');
      assert.ok(listener.tls);
      assert.equal(listener.tls.ca, pki.ca.cert);
      assert.equal(listener.tls.cert, pki.server.cert);
      assert.equal(listener.tls.key, pki.server.key);
      assert.deepEqual(listener.tls.files, {
        cacertfile: join(tmp.dir, 'site', 'certs', 'ca.pem'),
        certfile: join(tmp.dir, 'site', 'certs', 'server.pem'),
        keyfile: join(tmp.dir, 'site', 'certs', 'server-key.pem'),
      });
    }
    const printable = JSON.stringify(redactConfig(cfg));
    assert.doesNotMatch(printable, /PRIVATE KEY/, 'redactConfig hides the key');
    assert.match(printable, /"key":"\[redacted\]"/);
  });

  it('loads wss from environment overrides alone (as the Helm chart sets them)', () => {
    const cfg = loadAgentConfig({
      env: {
        TAPGATE_AGENT_PROTOCOL: 'wss',
        TAPGATE_AGENT_CACERTFILE: pki.ca.certFile,
        TAPGATE_AGENT_CERTFILE: pki.server.certFile,
        TAPGATE_AGENT_KEYFILE: pki.server.keyFile,
      },
    });
    assert.equal(cfg.agent.tls?.cert, pki.server.cert);
    assert.equal(cfg.webapi.tls, undefined, 'webapi stays ws');
  });

  it('ignores TLS files while protocol = ws, and for a disabled webapi', () => {
    const file = tmp.write(
      'ws-with-files.toml',
      `[agent]\ncertfile = "/does/not/exist.pem"\n${wss('webapi', { cert: '/nope' })}enabled = false\n`,
    );
    const cfg = loadAgentConfig({ path: file, env: {} });
    assert.equal(cfg.agent.tls, undefined);
    assert.equal(cfg.webapi.tls, undefined);
  });

  it('wss without the files', () => {
    const file = tmp.write('no-files.toml', wss('agent', {}));
    assertConfigError(() => loadAgentConfig({ path: file, env: {} }), {
      file,
      key: '[agent].cacertfile',
      problem: 'required when protocol = "wss"',
    });
    const noKey = tmp.write('no-key.toml', wss('webapi', { ca: pki.ca.certFile, cert: pki.server.certFile }));
    assertConfigError(() => loadAgentConfig({ path: noKey, env: {} }), {
      file: noKey,
      key: '[webapi].keyfile',
      problem: 'required when protocol = "wss"',
    });
    assertConfigError(() => loadAgentConfig({ env: { TAPGATE_WEBAPI_PROTOCOL: 'wss' } }), {
      key: 'TAPGATE_WEBAPI_CACERTFILE',
      problem: 'required when protocol = "wss"',
    });
  });

  it('wss with a file that cannot be read', () => {
    const missing = join(tmp.dir, 'missing.pem');
    const file = tmp.write('unreadable.toml', wss('agent', { ...good(), cert: missing }));
    assertConfigError(() => loadAgentConfig({ path: file, env: {} }), {
      file,
      key: '[agent].certfile',
      problem: `cannot read ${missing}: no such file or directory (ENOENT)`,
    });
    const dirAsKey = tmp.write('dir-key.toml', wss('agent', { ...good(), key: tmp.dir }));
    assertConfigError(() => loadAgentConfig({ path: dirAsKey, env: {} }), {
      file: dirAsKey,
      key: '[agent].keyfile',
      problem: `cannot read ${tmp.dir}: is a directory, not a file (EISDIR)`,
    });
  });

  it('garbage PEM in each of the three files', () => {
    const garbage = tmp.write('garbage.pem', 'this is not a certificate\n');
    const brokenCert = tmp.write(
      'broken-cert.pem',
      '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n',
    );
    const caFile = tmp.write('bad-ca.toml', wss('agent', { ...good(), ca: garbage }));
    assertConfigError(() => loadAgentConfig({ path: caFile, env: {} }), {
      file: caFile,
      key: '[agent].cacertfile',
      problem: `${garbage} holds no PEM certificate (-----BEGIN CERTIFICATE-----)`,
    });
    const certFile = tmp.write('bad-cert.toml', wss('agent', { ...good(), cert: brokenCert }));
    assertConfigError(() => loadAgentConfig({ path: certFile, env: {} }), {
      file: certFile,
      key: '[agent].certfile',
      problem: new RegExp(`^${brokenCert} certificate 1 does not parse \\(`),
    });
    const keyFile = tmp.write('bad-key.toml', wss('agent', { ...good(), key: garbage }));
    assertConfigError(() => loadAgentConfig({ path: keyFile, env: {} }), {
      file: keyFile,
      key: '[agent].keyfile',
      problem: new RegExp(`^${garbage} is not an unencrypted PEM private key \\(`),
    });
  });

  it('a CA bundle with several certificates, one of them broken', () => {
    const bundle = tmp.write(
      'bundle.pem',
      `${pki.ca.cert}\n-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n`,
    );
    const file = tmp.write('bundle.toml', wss('agent', { ...good(), ca: bundle }));
    assertConfigError(() => loadAgentConfig({ path: file, env: {} }), {
      file,
      key: '[agent].cacertfile',
      problem: new RegExp(`^${bundle} certificate 2 does not parse`),
    });
    const twoGood = tmp.write('bundle-ok.pem', `${pki.ca.cert}${pki.server.cert}`);
    const ok = tmp.write('bundle-ok.toml', wss('agent', { ...good(), ca: twoGood }));
    assert.equal(loadAgentConfig({ path: ok, env: {} }).agent.tls?.ca, `${pki.ca.cert}${pki.server.cert}`);
  });

  it('a key that does not match the certificate', () => {
    const file = tmp.write('mismatch.toml', wss('webapi', { ...good(), key: pki.mismatchedKey.keyFile }));
    assertConfigError(() => loadAgentConfig({ path: file, env: {} }), {
      file,
      key: '[webapi].keyfile',
      problem: `${pki.mismatchedKey.keyFile} does not match the certificate in ${pki.server.certFile}`,
    });
  });

  it('an expired certificate', () => {
    const file = tmp.write(
      'expired.toml',
      wss('agent', { ...good(), cert: pki.expiredServer.certFile, key: pki.expiredServer.keyFile }),
    );
    assertConfigError(() => loadAgentConfig({ path: file, env: {} }), {
      file,
      key: '[agent].certfile',
      problem: `${pki.expiredServer.certFile} certificate "CN=localhost" expired on 2020-01-02T00:00:00.000Z`,
    });
  });

  describe('the server certificate is checked against the CA, its usage and the host at start-up', () => {
    let foreign: TestPki;
    before(async () => {
      foreign = await makeTestPki(join(tmp.dir, 'foreign-pki'));
    });

    it('a certificate from another CA than cacertfile', () => {
      const file = tmp.write(
        'foreign.toml',
        wss('agent', { ...good(), cert: foreign.server.certFile, key: foreign.server.keyFile }),
      );
      assertConfigError(() => loadAgentConfig({ path: file, env: {} }), {
        file,
        key: '[agent].certfile',
        problem: `${foreign.server.certFile} is not issued by a CA in the cacertfile (issuer "CN=Tapgate Test Root CA") ${pki.ca.certFile}`,
      });
    });

    it('a client-only certificate (extendedKeyUsage clientAuth, no serverAuth)', () => {
      const file = tmp.write(
        'client-only.toml',
        wss('webapi', { ...good(), cert: pki.client.certFile, key: pki.client.keyFile }),
      );
      assertConfigError(() => loadAgentConfig({ path: file, env: {} }), {
        file,
        key: '[webapi].certfile',
        problem: `${pki.client.certFile} is not valid for TLS servers: its extendedKeyUsage (1.3.6.1.5.5.7.3.2) lacks serverAuth (1.3.6.1.5.5.7.3.1)`,
      });
    });

    it('server_name that the certificate does not name; names it does are accepted', () => {
      const file = tmp.write('host.toml', wss('agent', { ...good(), serverName: 'gateway.example.com' }));
      assertConfigError(() => loadAgentConfig({ path: file, env: {} }), {
        file,
        key: '[agent].certfile',
        problem: `${pki.server.certFile} does not name "gateway.example.com" (its names: DNS:localhost, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1) (set by server_name)`,
      });
      for (const name of ['localhost', '127.0.0.1']) {
        const ok = tmp.write(`host-${name}.toml`, wss('agent', { ...good(), serverName: name }));
        assert.ok(loadAgentConfig({ path: ok, env: {} }).agent.tls);
      }
    });

    it('a CRL file: loaded when it is a PEM CRL, refused otherwise', async () => {
      const crl = await pki.crlFile();
      const ok = tmp.write('crl.toml', wss('agent', { ...good(), crl }));
      const loaded = loadAgentConfig({ path: ok, env: {} }).agent.tls;
      assert.match(loaded?.crl ?? '', /BEGIN X509 CRL/);
      assert.equal(loaded?.files.crlfile, crl);
      const bad = tmp.write('crl-bad.toml', wss('agent', { ...good(), crl: pki.ca.certFile }));
      assertConfigError(() => loadAgentConfig({ path: bad, env: {} }), {
        file: bad,
        key: '[agent].crlfile',
        problem: `${pki.ca.certFile} holds no PEM CRL (-----BEGIN X509 CRL-----)`,
      });
    });

    it('a service started with such a certificate exits 2 naming the file and key', () => {
      const file = tmp.write(
        'exit.toml',
        wss('agent', { ...good(), cert: pki.client.certFile, key: pki.client.keyFile }),
      );
      const script = `const { loadOrExit, loadAgentConfig } = require(${JSON.stringify(require.resolve('./index'))});
        loadOrExit(() => loadAgentConfig());`;
      const run = spawnSync(process.execPath, ['-e', script], {
        env: { PATH: process.env.PATH, TAPGATE_CONFIG: file },
        encoding: 'utf8',
      });
      assert.equal(run.status, 2, run.stderr);
      assert.match(
        run.stderr,
        new RegExp(
          `^config error: ${file}: \\[agent\\]\\.certfile: ${pki.client.certFile} is not valid for TLS servers`,
        ),
      );
    });
  });

  it('[nats].ca_file must be a PEM CA bundle', () => {
    const ok = tmp.write('nats-ca.toml', `[nats]\nca_file = "${pki.ca.certFile}"\n`);
    assert.equal(loadAgentConfig({ path: ok, env: {} }).nats.ca, pki.ca.cert);
    const bad = tmp.write('nats-ca-bad.toml', `[nats]\nca_file = "${pki.server.keyFile}"\n`);
    assertConfigError(() => loadAgentConfig({ path: bad, env: {} }), {
      file: bad,
      key: '[nats].ca_file',
      problem: `${pki.server.keyFile} holds no PEM certificate (-----BEGIN CERTIFICATE-----)`,
    });
  });
});
