import { loadAgentConfig } from '@tapgate/config';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startNats, startRedis, freePort, waitFor, type TestServer } from '@tapgate/testing';
import { DEFAULT_PRESENCE_SETTINGS } from './presence/presence-settings';

const load = (env: NodeJS.ProcessEnv, path?: string) =>
  loadAgentConfig({ path, env, sections: ['presence'] }).presence;

describe('[presence] config section', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'tapgate-presence-config-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('defaults to the service defaults', () => {
    assert.deepEqual(load({}), DEFAULT_PRESENCE_SETTINGS);
  });

  it('reads the file and lets the environment override it', () => {
    const file = join(dir, 'ok.toml');
    writeFileSync(file, '[presence]\newma_alpha = 0.5\nstate_ttl_ms = 300000\nstrongest_margin_db = 6\n');
    const cfg = load({ TAPGATE_PRESENCE_EWMA_ALPHA: '0.25' }, file);
    assert.equal(cfg.ewmaAlpha, 0.25);
    assert.equal(cfg.stateTtlMs, 300_000);
    assert.equal(cfg.strongestMarginDb, 6);
  });

  it('names the file, key and problem', () => {
    const file = join(dir, 'bad.toml');
    writeFileSync(file, '[presence]\nstate_ttl_ms = 30000\n');
    assert.throws(() => load({}, file), {
      message: `${file}: [presence].state_ttl_ms: must be an integer 61000-86400000 (got 30000)`,
    });
    assert.throws(
      () => load({ TAPGATE_PRESENCE_EWMA_ALPHA: '0' }),
      /environment: TAPGATE_PRESENCE_EWMA_ALPHA: must be a number greater than 0/,
    );
    assert.throws(() => load({ TAPGATE_PRESENCE_EWMA_ALPHA: 'abc' }), /TAPGATE_PRESENCE_EWMA_ALPHA/);
    assert.throws(() => load({ TAPGATE_PRESENCE_SWEEP: '1' }), /TAPGATE_PRESENCE_SWEEP: unknown key/);
    writeFileSync(file, '[presence]\nstate_ttl_ms = 61000\nterminal_window_ms = 90000\n');
    assert.throws(() => load({}, file), /\[presence\]\.terminal_window_ms: must not exceed/);
  });
});

describe('presence main', () => {
  let nats: TestServer;
  let redis: TestServer;
  before(async () => {
    [nats, redis] = await Promise.all([startNats({ jetstream: false }), startRedis()]);
  });
  after(async () => {
    await Promise.all([nats.dispose(), redis.dispose()]);
  });

  it('starts from the shared file and the environment, becomes ready and stops on SIGTERM', async () => {
    const port = await freePort();
    // The gateway's wss listener (its TLS files are not mounted in presence pods) must not matter here.
    const dir = mkdtempSync(join(tmpdir(), 'tapgate-presence-main-'));
    const file = join(dir, 'nymi_agent.toml');
    writeFileSync(
      file,
      '[agent]\nprotocol = "wss"\ncertfile = "missing.pem"\n\n[presence]\nsweep_interval_ms = 100\n',
    );
    const child = spawn(process.execPath, [join(__dirname, 'main.js')], {
      env: {
        PATH: process.env.PATH,
        TAPGATE_CONFIG: file,
        TAPGATE_NATS_SERVERS: nats.url,
        TAPGATE_REDIS_URL: redis.url,
        TAPGATE_HTTP_HOST: '127.0.0.1',
        TAPGATE_HTTP_PORT: String(port),
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (b: Buffer) => (output += b.toString()));
    child.stderr.on('data', (b: Buffer) => (output += b.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    try {
      await waitFor(
        async () => (await fetch(`http://127.0.0.1:${port}/readyz`).catch(() => undefined))?.status === 200,
        { timeoutMs: 15_000, what: `presence ready (${output})` },
      );
    } finally {
      child.kill('SIGTERM');
      rmSync(dir, { recursive: true, force: true });
    }
    assert.equal(await exited, 0, output);
  });

  it('exits 2 with the config error on a bad setting', async () => {
    const child = spawn(process.execPath, [join(__dirname, 'main.js')], {
      env: { PATH: process.env.PATH, TAPGATE_PRESENCE_STATE_TTL_MS: '5' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    assert.equal(code, 2);
    assert.match(
      stderr,
      /config error: environment: TAPGATE_PRESENCE_STATE_TTL_MS: must be an integer 61000-86400000/,
    );
  });
});
