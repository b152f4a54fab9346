import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { makeTestPki, type TestPki } from '@tapgate/testing';
import { DEFAULT_NBE_PATH, loadEndpointConfig, redactConfig } from './index';
import { assertConfigError, scratch } from './test-helpers';
import { subjectSafeName } from './util';

const DEFAULTS = {
  agentUrl: 'ws://127.0.0.1:9120/socket/websocket',
  rssiWindowTap: 10,
  rssiWindowLong: 50,
  rssiTapThreshold: 0,
  terminalId: subjectSafeName(hostname(), 'terminal'),
  driver: 'simulated',
  controlPort: 9130,
  logLevel: 'info',
  nfcApduTimeoutMs: 3000,
  supportLegacyMode: true,
  logFileMaxBytes: 10 * 1024 * 1024,
  logFileKeep: 5,
};

describe('loadEndpointConfig (nbe.toml)', () => {
  const tmp = scratch('nbe');
  let pki: TestPki;
  before(async () => {
    pki = await makeTestPki(join(tmp.dir, 'pki'));
  });
  after(() => tmp.dispose());

  it('names the platform default paths from the Nymi guide', () => {
    assert.deepEqual(DEFAULT_NBE_PATH, {
      win32: 'C:\\Nymi\\Bluetooth_Endpoint\\nbe.toml',
      linux: '/usr/bin/nbe.toml',
    });
  });

  it('uses the documented defaults when the platform default file is absent', (t) => {
    assert.deepEqual(loadEndpointConfig({ env: {}, platform: 'win32' }), DEFAULTS);
    if (existsSync(DEFAULT_NBE_PATH.linux)) {
      t.diagnostic(`${DEFAULT_NBE_PATH.linux} exists on this machine; linux default case not checked`);
      return;
    }
    assert.deepEqual(loadEndpointConfig({ env: {}, platform: 'linux' }), DEFAULTS);
  });

  it('turns a host name into a valid terminal id', () => {
    assert.equal(subjectSafeName('pc-17.plant.local', 'terminal'), 'pc-17-plant-local');
    assert.equal(subjectSafeName('', 'terminal'), 'terminal');
    assert.equal(subjectSafeName('x'.repeat(100), 'terminal').length, 64);
    assert.match(DEFAULTS.terminalId, /^[A-Za-z0-9_-]{1,64}$/);
  });

  it("reads Nymi's keys and the Tapgate extensions, with paths relative to the file", () => {
    tmp.write('site/terminal.cred', 'terminal-secret\n');
    tmp.write('site/ca.pem', pki.ca.cert);
    const file = tmp.write(
      'site/nbe.toml',
      `agent_url = "wss://agent.plant.local:9120/socket/websocket"
rssi_window_tap = 12
rssi_window_long = 60
rssi_tap_threshold = -42
terminal_id = "line-3_press"
credential_file = "terminal.cred"
ca_file = "ca.pem"
driver = "ble"
control_port = 0
log_level = "debug"
nfc_reader = "PICC"
nfc_apdu_timeout_ms = 1500
log_file = "logs/endpoint.log"
log_file_max_mb = 2
log_file_keep = 3
`,
    );
    assert.deepEqual(loadEndpointConfig({ path: file, env: {} }), {
      file,
      agentUrl: 'wss://agent.plant.local:9120/socket/websocket',
      rssiWindowTap: 12,
      rssiWindowLong: 60,
      rssiTapThreshold: -42,
      terminalId: 'line-3_press',
      credential: 'terminal-secret',
      ca: pki.ca.cert,
      driver: 'ble',
      controlPort: 0,
      logLevel: 'debug',
      nfcReader: 'PICC',
      nfcApduTimeoutMs: 1500,
      supportLegacyMode: true,
      logFile: join(tmp.dir, 'site/logs/endpoint.log'),
      logFileMaxBytes: 2 * 1024 * 1024,
      logFileKeep: 3,
    });
  });

  it('NYMI_NEA_SUPPORT_LEGACY_MODE: unset or 1 accepts legacy bands, 0 refuses them, anything else is an error', () => {
    const load = (v: string | undefined) =>
      loadEndpointConfig({
        env: v === undefined ? {} : { NYMI_NEA_SUPPORT_LEGACY_MODE: v },
        platform: 'win32',
      }).supportLegacyMode;
    assert.equal(load(undefined), true);
    assert.equal(load('1'), true);
    assert.equal(load('0'), false);
    assertConfigError(() => load('yes'), {
      key: 'NYMI_NEA_SUPPORT_LEGACY_MODE',
      problem: 'must be 0 or 1 (got "yes")',
    });
  });

  it('takes the file from TAPGATE_NBE_CONFIG, and TAPGATE_NBE_<KEY> overrides it', () => {
    const file = tmp.write(
      'env/nbe.toml',
      'agent_url = "ws://a:9120/socket/websocket"\nrssi_tap_threshold = -50\n',
    );
    const cfg = loadEndpointConfig({
      env: {
        TAPGATE_NBE_CONFIG: file,
        TAPGATE_NBE_AGENT_URL: 'wss://b:9120/socket/websocket',
        TAPGATE_NBE_DRIVER: 'nfc',
        TAPGATE_AGENT_PORT: 'not the endpoint loader’s business',
      },
    });
    assert.equal(cfg.file, file);
    assert.equal(cfg.agentUrl, 'wss://b:9120/socket/websocket');
    assert.equal(cfg.rssiTapThreshold, -50);
    assert.equal(cfg.driver, 'nfc');
  });

  it('an explicit path that does not exist', () => {
    const missing = join(tmp.dir, 'nope', 'nbe.toml');
    assertConfigError(() => loadEndpointConfig({ path: missing, env: {} }), {
      file: missing,
      key: '(file)',
      problem: 'cannot read the config file: no such file or directory (ENOENT)',
    });
    assertConfigError(() => loadEndpointConfig({ env: { TAPGATE_NBE_CONFIG: missing } }), {
      file: missing,
      key: 'TAPGATE_NBE_CONFIG',
      problem: 'cannot read the config file: no such file or directory (ENOENT)',
    });
  });

  it('rejects bad values, naming the file and key', () => {
    const cases: Array<[string, string, string]> = [
      [
        'agent_url = "http://a:9120"',
        'agent_url',
        'must be a URL starting with ws:// or wss:// (got "http://a:9120")',
      ],
      [
        'agent_url = "not a url"',
        'agent_url',
        'must be a URL starting with ws:// or wss:// (got "not a url")',
      ],
      ['rssi_window_tap = 0', 'rssi_window_tap', 'must be an integer 1-1000 (got 0)'],
      ['rssi_tap_threshold = 5', 'rssi_tap_threshold', 'must be an integer from -127 to 0 (got 5)'],
      ['rssi_tap_threshold = -128', 'rssi_tap_threshold', 'must be an integer from -127 to 0 (got -128)'],
      [
        'rssi_window_tap = 20\nrssi_window_long = 10',
        'rssi_window_long',
        'must be >= rssi_window_tap (20) (got 10)',
      ],
      ['terminal_id = "bad id!"', 'terminal_id', 'must be 1-64 of A-Z a-z 0-9 _ - (got "bad id!")'],
      ['driver = "usb"', 'driver', 'must be one of "simulated", "nfc", "ble" (got "usb")'],
      ['control_port = 65536', 'control_port', 'must be an integer 0-65535 (got 65536)'],
      ['agent_urll = "ws://a"', 'agent_urll', /^unknown key \(known: agent_url, rssi_window_tap, /.source],
      ['[agent]\nport = 1', 'agent', /^unknown key/.source],
    ];
    cases.forEach(([toml, key, problem], i) => {
      const file = tmp.write(`bad-${i}.toml`, `${toml}\n`);
      const expected = problem.startsWith('^') ? new RegExp(problem) : problem;
      assertConfigError(() => loadEndpointConfig({ path: file, env: {} }), { file, key, problem: expected });
    });
  });

  it('blames the file that set rssi_window_tap above the default rssi_window_long', () => {
    const file = tmp.write('tap-above-long.toml', 'rssi_window_tap = 100\n');
    assertConfigError(() => loadEndpointConfig({ path: file, env: {} }), {
      file,
      key: 'rssi_window_long',
      problem: 'must be >= rssi_window_tap (100) (got 50)',
    });
  });

  it('a ca_file that is not a certificate, and an empty credential file', () => {
    const notCa = tmp.write('ca-bad/nbe.toml', `ca_file = "${pki.server.keyFile}"\n`);
    assertConfigError(() => loadEndpointConfig({ path: notCa, env: {} }), {
      file: notCa,
      key: 'ca_file',
      problem: `${pki.server.keyFile} holds no PEM certificate (-----BEGIN CERTIFICATE-----)`,
    });
    const emptyCred = tmp.write('cred-empty/cred', '');
    const file = tmp.write('cred-empty/nbe.toml', 'credential_file = "cred"\n');
    assertConfigError(() => loadEndpointConfig({ path: file, env: {} }), {
      file,
      key: 'credential_file',
      problem: `${emptyCred} is empty`,
    });
  });

  it('a client certificate for mTLS: loaded with its key, checked for clientAuth, both files or neither', () => {
    const ok = tmp.write(
      'mtls/nbe.toml',
      `certfile = "${pki.client.certFile}"\nkeyfile = "${pki.client.keyFile}"\n`,
    );
    const cfg = loadEndpointConfig({ path: ok, env: {} });
    assert.equal(cfg.clientCertificate?.cert, pki.client.cert);
    assert.equal(cfg.clientCertificate?.key, pki.client.key);
    assert.doesNotMatch(JSON.stringify(redactConfig(cfg)), /PRIVATE KEY/);
    const serverOnly = tmp.write(
      'mtls-server/nbe.toml',
      `certfile = "${pki.server.certFile}"\nkeyfile = "${pki.server.keyFile}"\n`,
    );
    assertConfigError(() => loadEndpointConfig({ path: serverOnly, env: {} }), {
      file: serverOnly,
      key: 'certfile',
      problem: `${pki.server.certFile} is not valid for TLS clients: its extendedKeyUsage (1.3.6.1.5.5.7.3.1) lacks clientAuth (1.3.6.1.5.5.7.3.2)`,
    });
    const noKey = tmp.write('mtls-nokey/nbe.toml', `certfile = "${pki.client.certFile}"\n`);
    assertConfigError(() => loadEndpointConfig({ path: noKey, env: {} }), {
      file: noKey,
      key: 'keyfile',
      problem: 'required when certfile is set',
    });
    const wrongKey = tmp.write(
      'mtls-wrong/nbe.toml',
      `certfile = "${pki.client.certFile}"\nkeyfile = "${pki.mismatchedKey.keyFile}"\n`,
    );
    assertConfigError(() => loadEndpointConfig({ path: wrongKey, env: {} }), {
      file: wrongKey,
      key: 'keyfile',
      problem: `${pki.mismatchedKey.keyFile} does not match the certificate in ${pki.client.certFile}`,
    });
  });

  it('bad and unknown environment overrides', () => {
    assertConfigError(
      () => loadEndpointConfig({ env: { TAPGATE_NBE_RSSI_TAP_THRESHOLD: '-42.5' }, platform: 'win32' }),
      {
        key: 'TAPGATE_NBE_RSSI_TAP_THRESHOLD',
        problem: 'must be an integer from -127 to 0 (got -42.5)',
      },
    );
    assertConfigError(
      () => loadEndpointConfig({ env: { TAPGATE_NBE_AGENTURL: 'ws://a' }, platform: 'win32' }),
      {
        key: 'TAPGATE_NBE_AGENTURL',
        problem: /^unknown key \(known: TAPGATE_NBE_AGENT_URL, /,
      },
    );
  });
});
