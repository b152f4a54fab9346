import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { loadAgentConfig, redactConfig } from '../index';
import { assertConfigError, scratch } from '../test-helpers';
import { parseSentinelAddress } from './redis';

describe('[redis] section: plain URL or Sentinels', () => {
  const tmp = scratch('redis-config');
  after(() => tmp.dispose());
  const load = (toml: string, env: NodeJS.ProcessEnv = {}) =>
    loadAgentConfig({ path: tmp.write('nymi_agent.toml', toml), env, sections: ['redis'] });
  const file = () => `${tmp.dir}/nymi_agent.toml`;

  it('without sentinels there is no sentinel block, even when master_name or its password file are set', () => {
    assert.deepEqual(loadAgentConfig({ env: {}, sections: ['redis'] }).redis, {
      url: 'redis://127.0.0.1:6379',
    });
    const cfg = load('[redis]\nmaster_name = "other"\nsentinel_password_file = "./missing"\n');
    assert.deepEqual(cfg.redis, { url: 'redis://127.0.0.1:6379' });
  });

  it('reads sentinels, master name and both passwords from the file', () => {
    tmp.write('secrets/data.pw', 'data-pass\n');
    tmp.write('secrets/sentinel.pw', ' sentinel-pass \n');
    const cfg = load(`
[redis]
url = "rediss://ignored-host:6380/2"
password_file = "./secrets/data.pw"
sentinels = ["10.0.0.5:26379", "redis-sentinel-1.plant.local:26380", "[fd00::7]:26379"]
master_name = "plant-a"
sentinel_password_file = "./secrets/sentinel.pw"
`);
    assert.deepEqual(cfg.redis, {
      url: 'rediss://ignored-host:6380/2',
      password: 'data-pass',
      sentinel: {
        sentinels: [
          { host: '10.0.0.5', port: 26379 },
          { host: 'redis-sentinel-1.plant.local', port: 26380 },
          { host: 'fd00::7', port: 26379 },
        ],
        masterName: 'plant-a',
        password: 'sentinel-pass',
      },
    });
    const shown = JSON.stringify(redactConfig(cfg.redis));
    assert.doesNotMatch(shown, /data-pass|sentinel-pass/);
  });

  it('master_name defaults to "tapgate"; the environment gives the same keys (sentinels comma-separated)', () => {
    const pw = tmp.write('env-sentinel.pw', 'from-env');
    const cfg = loadAgentConfig({
      env: {
        TAPGATE_REDIS_SENTINELS: '127.0.0.1:26379, 127.0.0.1:26380',
        TAPGATE_REDIS_SENTINEL_PASSWORD_FILE: pw,
      },
      sections: ['redis'],
    });
    assert.deepEqual(cfg.redis.sentinel, {
      sentinels: [
        { host: '127.0.0.1', port: 26379 },
        { host: '127.0.0.1', port: 26380 },
      ],
      masterName: 'tapgate',
      password: 'from-env',
    });
    const named = loadAgentConfig({
      env: { TAPGATE_REDIS_SENTINELS: 's1:26379', TAPGATE_REDIS_MASTER_NAME: 'plant-b' },
      sections: ['redis'],
    });
    assert.equal(named.redis.sentinel?.masterName, 'plant-b');
  });

  it('a bad host:port is a config error naming the key and the entry', () => {
    assertConfigError(() => load('[redis]\nsentinels = ["10.0.0.5:26379", "10.0.0.6"]\n'), {
      file: file(),
      key: '[redis].sentinels',
      problem:
        'entry 2 ("10.0.0.6") is not host:port (e.g. "10.0.0.5:26379" or "[fd00::5]:26379") (got ["10.0.0.5:26379", "10.0.0.6"])',
    });
    assertConfigError(
      () => loadAgentConfig({ env: { TAPGATE_REDIS_SENTINELS: 'a:99999' }, sections: ['redis'] }),
      {
        key: 'TAPGATE_REDIS_SENTINELS',
        problem:
          'entry 1 ("a:99999") is not host:port (e.g. "10.0.0.5:26379" or "[fd00::5]:26379") (got a:99999)',
      },
    );
    assertConfigError(() => load('[redis]\nsentinels = "10.0.0.5:26379"\n'), {
      file: file(),
      key: '[redis].sentinels',
      problem: 'must be a list of Sentinel addresses host:port (got "10.0.0.5:26379")',
    });
    assertConfigError(() => load('[redis]\nsentinels = ["s:26379"]\nmaster_name = ""\n'), {
      file: file(),
      key: '[redis].master_name',
      problem: 'must be a non-empty string (got "")',
    });
  });

  it('an unreadable sentinel_password_file names its key', () => {
    assertConfigError(() => load('[redis]\nsentinels = ["s:26379"]\nsentinel_password_file = "./nope"\n'), {
      file: file(),
      key: '[redis].sentinel_password_file',
      problem: /^cannot read .*nope: no such file or directory \(ENOENT\)$/,
    });
  });

  it('parseSentinelAddress accepts host names, IPv4 and bracketed IPv6 only', () => {
    assert.deepEqual(parseSentinelAddress('sentinel-0.redis:26379'), {
      host: 'sentinel-0.redis',
      port: 26379,
    });
    assert.deepEqual(parseSentinelAddress('[::1]:1'), { host: '::1', port: 1 });
    for (const bad of [
      '',
      ':26379',
      'host:',
      'host:0',
      'host:65536',
      '::1:26379',
      '[nope]:1',
      'a b:1',
      'h:1:2',
    ]) {
      assert.equal(parseSentinelAddress(bad), undefined, bad);
    }
  });
});
