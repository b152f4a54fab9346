import assert from 'node:assert/strict';
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { loadAgentConfig } from './index';
import { assertConfigError, scratch } from './test-helpers';
import { subjectSafeName } from './util';

describe('loadAgentConfig: defaults, file and environment', () => {
  const tmp = scratch('agent');
  after(() => tmp.dispose());

  it('uses the documented defaults with no file and an empty environment', () => {
    const cfg = loadAgentConfig({ env: {} });
    assert.equal(cfg.file, undefined);
    assert.deepEqual(cfg.agent, { logLevel: 'warn', protocol: 'ws', port: 9120 });
    assert.deepEqual(cfg.nes, { neaName: 'tapgate' });
    assert.deepEqual(cfg.webapi, { enabled: true, protocol: 'ws', port: 4443 });
    assert.deepEqual(cfg.nats, { servers: ['nats://127.0.0.1:4222'], requestTimeoutMs: 2000, replicas: 1 });
    assert.deepEqual(cfg.redis, { url: 'redis://127.0.0.1:6379' });
    assert.deepEqual(cfg.http, { host: '0.0.0.0', port: 8080 });
    assert.deepEqual(cfg.telemetry, { metricsIntervalMs: 15000 });
    // Other sections' owners add gateway keys; these are the ones this lib documents.
    const { gateway } = cfg;
    assert.deepEqual(
      {
        maxFrameBytes: gateway.maxFrameBytes,
        handshakeTimeoutMs: gateway.handshakeTimeoutMs,
        heartbeatIntervalMs: gateway.heartbeatIntervalMs,
        rateLimitPerSecond: gateway.rateLimitPerSecond,
        rateLimitBurst: gateway.rateLimitBurst,
        floodCloseAfter: gateway.floodCloseAfter,
        trustedProxies: gateway.trustedProxies,
        tapTimeoutMs: gateway.tapTimeoutMs,
        gatewayId: gateway.gatewayId,
      },
      {
        maxFrameBytes: 65536,
        handshakeTimeoutMs: 5000,
        heartbeatIntervalMs: 15000,
        rateLimitPerSecond: 50,
        rateLimitBurst: 100,
        floodCloseAfter: 200,
        trustedProxies: [],
        tapTimeoutMs: 2000,
        gatewayId: subjectSafeName(hostname(), 'gateway'),
      },
    );
    assert.equal('token' in cfg.nats, false, 'unset optional keys are absent');
  });

  it('reads every section of a file, converting snake_case keys to camelCase', () => {
    const file = tmp.write(
      'full.toml',
      `[agent]
log_level = "debug"
port = 9200

[nes]
nea_name = "pomsnet"
nes_url = "https://nes.plant.local"
directory_service_id = "NES"

[webapi]
enabled = false
port = 4444

[nats]
servers = ["nats://a:4222", "tls://b:4222"]
name = "gw"
request_timeout_ms = 500
replicas = 3

[redis]
url = "rediss://redis.plant.local:6380"

[http]
host = "127.0.0.1"
port = 8081

[telemetry]
otlp_endpoint = "http://otel:4318"
service_name = "ws-gateway"
metrics_interval_ms = 5000

[gateway]
max_frame_bytes = 1024
trusted_proxies = ["10.0.0.0/8", "192.168.1.7", "fd00::/8", "::1"]
gateway_id = "gw-1"
rate_limit_per_second = 5
`,
    );
    const cfg = loadAgentConfig({ path: file, env: {} });
    assert.equal(cfg.file, file);
    assert.deepEqual(cfg.agent, { logLevel: 'debug', protocol: 'ws', port: 9200 });
    assert.deepEqual(cfg.nes, {
      neaName: 'pomsnet',
      nesUrl: 'https://nes.plant.local',
      directoryServiceId: 'NES',
    });
    assert.deepEqual(cfg.webapi, { enabled: false, protocol: 'ws', port: 4444 });
    assert.deepEqual(cfg.nats, {
      servers: ['nats://a:4222', 'tls://b:4222'],
      name: 'gw',
      requestTimeoutMs: 500,
      replicas: 3,
    });
    assert.equal(cfg.redis.url, 'rediss://redis.plant.local:6380');
    assert.deepEqual(cfg.http, { host: '127.0.0.1', port: 8081 });
    assert.deepEqual(cfg.telemetry, {
      otlpEndpoint: 'http://otel:4318',
      serviceName: 'ws-gateway',
      metricsIntervalMs: 5000,
    });
    assert.equal(cfg.gateway.maxFrameBytes, 1024);
    assert.deepEqual(cfg.gateway.trustedProxies, ['10.0.0.0/8', '192.168.1.7', 'fd00::/8', '::1']);
    assert.equal(cfg.gateway.gatewayId, 'gw-1');
    assert.equal(cfg.gateway.rateLimitPerSecond, 5);
    assert.equal(cfg.gateway.rateLimitBurst, 100, 'keys absent from the file keep their defaults');
  });

  it('takes the file from TAPGATE_CONFIG, and the environment overrides the file', () => {
    const file = tmp.write(
      'env.toml',
      '[agent]\nport = 9200\nlog_level = "info"\n[gateway]\nmax_frame_bytes = 2048\n',
    );
    const cfg = loadAgentConfig({
      env: {
        TAPGATE_CONFIG: file,
        TAPGATE_AGENT_PORT: '9443',
        TAPGATE_GATEWAY_MAX_FRAME_BYTES: '1024',
        TAPGATE_NATS_SERVERS: 'nats://a:4222, nats://b:4222',
        TAPGATE_NATS_REPLICAS: '3',
        TAPGATE_WEBAPI_ENABLED: '0',
        TAPGATE_GATEWAY_TRUSTED_PROXIES: '10.1.0.0/16,2001:db8::/32',
        PATH: '/usr/bin',
        TAPGATE_UNRELATED_THING: 'ignored: no such section',
      },
    });
    assert.equal(cfg.file, file);
    assert.equal(cfg.agent.port, 9443);
    assert.equal(cfg.agent.logLevel, 'info', 'file value kept where the environment is silent');
    assert.equal(cfg.gateway.maxFrameBytes, 1024);
    assert.deepEqual(cfg.nats.servers, ['nats://a:4222', 'nats://b:4222']);
    assert.equal(cfg.nats.replicas, 3);
    assert.equal(cfg.webapi.enabled, false);
    assert.deepEqual(cfg.gateway.trustedProxies, ['10.1.0.0/16', '2001:db8::/32']);
  });

  it('treats an empty environment variable as unset', () => {
    const file = tmp.write('empty-env.toml', '[agent]\nport = 9200\n');
    const cfg = loadAgentConfig({
      path: file,
      env: { TAPGATE_AGENT_PORT: '', TAPGATE_TELEMETRY_OTLP_ENDPOINT: ' ' },
    });
    assert.equal(cfg.agent.port, 9200);
    assert.equal(cfg.telemetry.otlpEndpoint, undefined);
  });

  it('treats an empty otlp_endpoint in the file as export off', () => {
    const file = tmp.write('otlp-off.toml', '[telemetry]\notlp_endpoint = ""\n');
    assert.equal(loadAgentConfig({ path: file, env: {} }).telemetry.otlpEndpoint, undefined);
  });

  it('accepts a UTF-8 byte-order mark (files saved by Windows Notepad)', () => {
    const file = tmp.write('bom.toml', '\uFEFF[agent]\nport = 9300\n');
    assert.equal(loadAgentConfig({ path: file, env: {} }).agent.port, 9300);
  });

  it('resolves relative paths in the file against the file folder, not the working directory', () => {
    tmp.write('site/secrets/nats-token', 's3cret-token\n');
    tmp.write('site/secrets/redis-pass', 'redis-pass');
    tmp.write('site/creds.json', '{}');
    const file = tmp.write(
      'site/nymi_agent.toml',
      `[nes]
credentials_location = "certs"
[nats]
token_file = "secrets/nats-token"
[redis]
password_file = "./secrets/redis-pass"
`,
    );
    assert.notEqual(process.cwd(), join(tmp.dir, 'site'));
    const cfg = loadAgentConfig({ path: file, env: {} });
    assert.equal(cfg.nes.credentialsLocation, join(tmp.dir, 'site', 'certs'));
    assert.equal(cfg.nats.token, 's3cret-token', 'read at load and trimmed');
    assert.equal(cfg.redis.password, 'redis-pass');
  });

  it('resolves relative paths from the environment against the working directory', () => {
    const cfg = loadAgentConfig({ env: { TAPGATE_NES_CREDENTIALS_LOCATION: 'some/certs' } });
    assert.equal(cfg.nes.credentialsLocation, resolve(process.cwd(), 'some/certs'));
  });

  it('builds only the requested sections, but still validates all of them', () => {
    const file = tmp.write('partial.toml', '[agent]\nprotocol = "wss"\ncertfile = "missing.pem"\n');
    const cfg = loadAgentConfig({ path: file, env: {}, sections: ['nats', 'http'] });
    assert.deepEqual(Object.keys(cfg).sort(), ['file', 'http', 'logLevel', 'nats']);
    assert.equal(cfg.logLevel, 'warn', '[agent].log_level is offered without building [agent]');
    const bad = tmp.write('partial-bad.toml', '[agent]\nport = 0\n');
    assertConfigError(() => loadAgentConfig({ path: bad, env: {}, sections: ['nats'] }), {
      file: bad,
      key: '[agent].port',
      problem: 'must be an integer 1-65535 (got 0)',
    });
  });

  it('ignores the test harness server-binary variables', () => {
    const env = {
      TAPGATE_NATS_SERVER_BIN: '/opt/nats-server',
      TAPGATE_REDIS_SERVER_BIN: '/opt/redis-server',
    };
    assert.equal(loadAgentConfig({ env }).nats.servers.length, 1);
  });
});

describe('loadAgentConfig: errors name the file, the key and the problem', () => {
  const tmp = scratch('agent-errors');
  let dir = '';
  before(() => {
    dir = tmp.dir;
  });
  after(() => tmp.dispose());

  const fileWith = (name: string, toml: string) => tmp.write(name, toml);

  it('an explicit path that does not exist', () => {
    const missing = join(dir, 'nope.toml');
    assertConfigError(() => loadAgentConfig({ path: missing, env: {} }), {
      file: missing,
      key: '(file)',
      problem: 'cannot read the config file: no such file or directory (ENOENT)',
    });
    assertConfigError(() => loadAgentConfig({ env: { TAPGATE_CONFIG: missing } }), {
      file: missing,
      key: 'TAPGATE_CONFIG',
      problem: 'cannot read the config file: no such file or directory (ENOENT)',
    });
  });

  it('a path that is a directory', () => {
    assertConfigError(() => loadAgentConfig({ path: dir, env: {} }), {
      file: dir,
      key: '(file)',
      problem: 'cannot read the config file: is a directory, not a file (EISDIR)',
    });
  });

  it('TOML syntax, with line and column', () => {
    const file = fileWith('syntax.toml', '[agent]\nport = 9120\nlog_level = "warn\n');
    assertConfigError(() => loadAgentConfig({ path: file, env: {} }), {
      file,
      key: 'line 3, column 18',
      problem: /^invalid TOML: /,
    });
    const dup = fileWith('dup.toml', '[agent]\nport = 1\nport = 2\n');
    assertConfigError(() => loadAgentConfig({ path: dup, env: {} }), {
      file: dup,
      key: 'line 3, column 1',
      problem: /^invalid TOML: /,
    });
  });

  it('an unknown section', () => {
    const file = fileWith('section.toml', '[agnet]\nport = 9120\n');
    assertConfigError(() => loadAgentConfig({ path: file, env: {} }), {
      file,
      key: '[agnet]',
      problem: /^unknown section \(known: agent, nes, webapi, nats, redis, http, telemetry, gateway\b/,
    });
  });

  it('a key outside any section', () => {
    const file = fileWith('toplevel.toml', 'port = 9120\n');
    assertConfigError(() => loadAgentConfig({ path: file, env: {} }), {
      file,
      key: 'port',
      problem: /^unknown key; settings belong in a section \(\[agent\], /,
    });
  });

  it('a section that is not a table', () => {
    const file = fileWith('notable.toml', 'agent = 5\n');
    assertConfigError(() => loadAgentConfig({ path: file, env: {} }), {
      file,
      key: '[agent]',
      problem: 'must be a table (a [section] header)',
    });
  });

  it('an unknown key, and a nested table, in a known section', () => {
    const file = fileWith('key.toml', '[agent]\nprot = "wss"\n');
    assertConfigError(() => loadAgentConfig({ path: file, env: {} }), {
      file,
      key: '[agent].prot',
      problem:
        'unknown key (known: log_level, protocol, port, cacertfile, certfile, keyfile, server_name, crlfile)',
    });
    const nested = fileWith('nested.toml', '[agent.tls]\ncert = "x"\n');
    assertConfigError(() => loadAgentConfig({ path: nested, env: {} }), {
      file: nested,
      key: '[agent].tls',
      problem: /^unknown key/,
    });
  });

  it('wrong types', () => {
    const cases: Array<[string, string, string]> = [
      ['[agent]\nport = "9120"', '[agent].port', 'must be an integer 1-65535 (got "9120")'],
      ['[agent]\nport = 9120.5', '[agent].port', 'must be an integer 1-65535 (got 9120.5)'],
      ['[webapi]\nenabled = "yes"', '[webapi].enabled', 'must be true or false (got "yes")'],
      [
        '[nats]\nservers = "nats://a:4222"',
        '[nats].servers',
        'must be a list of NATS URLs (got "nats://a:4222")',
      ],
      ['[nats]\nname = 7', '[nats].name', 'must be a string (got 7)'],
      ['[http]\nhost = ""', '[http].host', 'must be a host name or IP address to listen on (got "")'],
      ['[nes]\nnea_name = { a = 1 }', '[nes].nea_name', 'must be a non-empty string (got a table)'],
      ['[agent]\nport = 1979-05-27', '[agent].port', 'must be an integer 1-65535 (got 1979-05-27)'],
    ];
    cases.forEach(([toml, key, problem], i) => {
      const file = fileWith(`type-${i}.toml`, `${toml}\n`);
      assertConfigError(() => loadAgentConfig({ path: file, env: {} }), { file, key, problem });
    });
  });

  it('ports and other numbers out of range', () => {
    const cases: Array<[string, string, string]> = [
      ['[agent]\nport = 70000', '[agent].port', 'must be an integer 1-65535 (got 70000)'],
      ['[webapi]\nport = 0', '[webapi].port', 'must be an integer 1-65535 (got 0)'],
      ['[http]\nport = -1', '[http].port', 'must be an integer 1-65535 (got -1)'],
      [
        '[gateway]\nmax_frame_bytes = 100',
        '[gateway].max_frame_bytes',
        'must be an integer 256-16777216 (got 100)',
      ],
      [
        '[gateway]\nmax_frame_bytes = 16777217',
        '[gateway].max_frame_bytes',
        'must be an integer 256-16777216 (got 16777217)',
      ],
      ['[nats]\nrequest_timeout_ms = 0', '[nats].request_timeout_ms', 'must be an integer 1-600000 (got 0)'],
    ];
    cases.forEach(([toml, key, problem], i) => {
      const file = fileWith(`range-${i}.toml`, `${toml}\n`);
      assertConfigError(() => loadAgentConfig({ path: file, env: {} }), { file, key, problem });
    });
  });

  it('enum values', () => {
    const file = fileWith('enum.toml', '[agent]\nlog_level = "verbose"\n');
    assertConfigError(() => loadAgentConfig({ path: file, env: {} }), {
      file,
      key: '[agent].log_level',
      problem: 'must be one of "error", "warn", "info", "debug" (got "verbose")',
    });
    const proto = fileWith('proto.toml', '[webapi]\nprotocol = "https"\n');
    assertConfigError(() => loadAgentConfig({ path: proto, env: {} }), {
      file: proto,
      key: '[webapi].protocol',
      problem: 'must be one of "ws", "wss" (got "https")',
    });
  });

  it('URLs with the wrong scheme, masking credentials in the message', () => {
    const file = fileWith('url.toml', '[redis]\nurl = "http://admin:hunter2@redis:6379"\n');
    const err = assertConfigError(() => loadAgentConfig({ path: file, env: {} }), {
      file,
      key: '[redis].url',
      problem: 'must be a URL starting with redis:// or rediss:// (got "http://***@redis:6379")',
    });
    assert.doesNotMatch(err.message, /hunter2/);
    const nats = fileWith('nats-url.toml', '[nats]\nservers = ["nats://ok:4222", "127.0.0.1:4222"]\n');
    assertConfigError(() => loadAgentConfig({ path: nats, env: {} }), {
      file: nats,
      key: '[nats].servers',
      problem:
        'entry 2 ("127.0.0.1:4222") is not a nats:// or tls:// URL (got ["nats://ok:4222", "127.0.0.1:4222"])',
    });
  });

  it('a bad trusted proxy (IPv4 and IPv6)', () => {
    const cases: Array<[string, number, string]> = [
      ['"10.0.0.0/33"', 1, '10.0.0.0/33'],
      ['"10.0.0.1", "not-an-ip"', 2, 'not-an-ip'],
      ['"fd00::/129"', 1, 'fd00::/129'],
      ['"10.0.0.0/8/8"', 1, '10.0.0.0/8/8'],
      ['"300.1.1.1"', 1, '300.1.1.1'],
    ];
    cases.forEach(([items, n, bad], i) => {
      const file = fileWith(`proxy-${i}.toml`, `[gateway]\ntrusted_proxies = [${items}]\n`);
      assertConfigError(() => loadAgentConfig({ path: file, env: {} }), {
        file,
        key: '[gateway].trusted_proxies',
        problem: new RegExp(
          `^entry ${n} \\("${bad.replace(/[.*/]/g, '\\$&')}"\\) is not an IP address or CIDR range`,
        ),
      });
    });
  });

  it('[agent].port equal to [webapi].port while webapi is enabled', () => {
    const file = fileWith('same-port.toml', '[webapi]\nport = 9120\n');
    assertConfigError(() => loadAgentConfig({ path: file, env: {} }), {
      file,
      key: '[webapi].port',
      problem: 'must differ from [agent].port (both are 9120)',
    });
    const disabled = fileWith('same-port-off.toml', '[webapi]\nport = 9120\nenabled = false\n');
    assert.equal(loadAgentConfig({ path: disabled, env: {} }).webapi.port, 9120, 'allowed while disabled');
    const agentSide = fileWith('same-port-agent.toml', '[agent]\nport = 4443\n');
    assertConfigError(() => loadAgentConfig({ path: agentSide, env: {} }), {
      file: agentSide,
      key: '[agent].port',
      problem: 'must differ from [webapi].port (both are 4443)',
    });
  });

  it('a secret file that is empty, without printing its contents anywhere', () => {
    const token = tmp.write('empty-token', '\n');
    const file = fileWith('token.toml', `[nats]\ntoken_file = "${token}"\n`);
    assertConfigError(() => loadAgentConfig({ path: file, env: {} }), {
      file,
      key: '[nats].token_file',
      problem: `${token} is empty`,
    });
  });

  it('a bad gateway id', () => {
    const file = fileWith('gwid.toml', '[gateway]\ngateway_id = "gw.1"\n');
    assertConfigError(() => loadAgentConfig({ path: file, env: {} }), {
      file,
      key: '[gateway].gateway_id',
      problem: 'must be 1-64 of A-Z a-z 0-9 _ - (got "gw.1")',
    });
  });

  it('a bad environment override', () => {
    assertConfigError(() => loadAgentConfig({ env: { TAPGATE_AGENT_PORT: 'abc' } }), {
      key: 'TAPGATE_AGENT_PORT',
      problem: 'must be an integer 1-65535 (got abc)',
    });
    assertConfigError(() => loadAgentConfig({ env: { TAPGATE_GATEWAY_MAX_FRAME_BYTES: '12' } }), {
      key: 'TAPGATE_GATEWAY_MAX_FRAME_BYTES',
      problem: 'must be an integer 256-16777216 (got 12)',
    });
    assertConfigError(() => loadAgentConfig({ env: { TAPGATE_WEBAPI_ENABLED: 'yes' } }), {
      key: 'TAPGATE_WEBAPI_ENABLED',
      problem: 'must be true, false, 1 or 0 (got yes)',
    });
    assertConfigError(() => loadAgentConfig({ env: { TAPGATE_GATEWAY_TRUSTED_PROXIES: '10.0.0.0/8,bad' } }), {
      key: 'TAPGATE_GATEWAY_TRUSTED_PROXIES',
      problem: 'entry 2 ("bad") is not an IP address or CIDR range (got 10.0.0.0/8,bad)',
    });
    assertConfigError(() => loadAgentConfig({ env: { TAPGATE_NATS_REPLICAS: '0' } }), {
      key: 'TAPGATE_NATS_REPLICAS',
      problem: /must be an integer 1-5/,
    });
    assertConfigError(() => loadAgentConfig({ env: { TAPGATE_NATS_SERVERS: ' , ' } }), {
      key: 'TAPGATE_NATS_SERVERS',
      problem: 'must be a non-empty list of NATS URLs (got ,)',
    });
  });

  it('an environment override wins over a file value, and is blamed for conflicts', () => {
    const file = fileWith('conflict.toml', '[webapi]\nport = 4444\n');
    assertConfigError(() => loadAgentConfig({ path: file, env: { TAPGATE_WEBAPI_PORT: '9120' } }), {
      key: 'TAPGATE_WEBAPI_PORT',
      problem: 'must differ from [agent].port (both are 9120)',
    });
  });

  it('an unknown TAPGATE_<SECTION>_ variable', () => {
    assertConfigError(() => loadAgentConfig({ env: { TAPGATE_AGENT_PROT: 'wss' } }), {
      key: 'TAPGATE_AGENT_PROT',
      problem: /^unknown key \(known: TAPGATE_AGENT_LOG_LEVEL, TAPGATE_AGENT_PROTOCOL, /,
    });
    assertConfigError(() => loadAgentConfig({ env: { TAPGATE_AGENT_port: '1' } }), {
      key: 'TAPGATE_AGENT_port',
      problem: /^unknown key/,
    });
  });
});
