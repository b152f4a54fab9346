// scripts/install-deps.sh (run by `npm run demo` and `npm test`): no second `npm ci` after a fresh
// install, and an offline machine keeps its node_modules and gets a clear answer in seconds. The real npm
// runs against registries that refuse connections or never answer, as on a plant network without internet.
import { strict as assert } from 'node:assert';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer } from 'node:http';
import { createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { repoRoot } from './index';

const SCRIPT = join(repoRoot, 'scripts/install-deps.sh');
const CHECK = join(repoRoot, 'scripts/deps-current.mjs');

interface Run {
  code: number | null;
  out: string;
  ms: number;
}

function run(cmd: string, args: string[], env: Record<string, string> = {}): Promise<Run> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const killer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(killer);
      resolve({ code, out, ms: Date.now() - started });
    });
  });
}

/** A one-package project as npm leaves it after an install: lock, hidden lock, the package, Node. */
function project(version = '1.0.0'): string {
  const dir = mkdtempSync(join(tmpdir(), 'tapgate-deps-'));
  const entry = (v: string) => ({
    version: v,
    resolved: `https://registry.npmjs.org/left-pad/-/left-pad-${v}.tgz`,
    integrity: 'sha512-AAAA',
    license: 'MIT',
  });
  const lock = (v: string, withRoot: boolean) => ({
    name: 'fixture',
    version: '1.0.0',
    lockfileVersion: 3,
    requires: true,
    packages: {
      ...(withRoot ? { '': { name: 'fixture', version: '1.0.0', dependencies: { 'left-pad': v } } } : {}),
      'node_modules/left-pad': entry(v),
      // Another platform's binary: in the lock, never installed (npm ci skips it as well).
      'node_modules/@esbuild/darwin-arm64': { version: '0.1.0', optional: true, os: ['darwin'] },
    },
  });
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'fixture', version: '1.0.0' }));
  writeFileSync(join(dir, 'package-lock.json'), JSON.stringify(lock(version, true)));
  mkdirSync(join(dir, 'node_modules/left-pad'), { recursive: true });
  mkdirSync(join(dir, 'node_modules/.bin'));
  writeFileSync(join(dir, 'node_modules/left-pad/package.json'), JSON.stringify({ version: '1.0.0' }));
  const hidden = lock('1.0.0', false);
  delete (hidden.packages as Record<string, unknown>)['node_modules/@esbuild/darwin-arm64'];
  writeFileSync(join(dir, 'node_modules/.package-lock.json'), JSON.stringify(hidden));
  symlinkSync(process.execPath, join(dir, 'node_modules/.bin/node'));
  return dir;
}

describe('scripts/install-deps.sh without a reachable registry', () => {
  let refused: string;
  let silent: Server;
  let silentUrl: string;
  const held: Socket[] = [];
  const dirs: string[] = [];
  const fixture = (version?: string) => {
    const dir = project(version);
    dirs.push(dir);
    return dir;
  };

  before(async () => {
    // A port nobody listens on (connection refused), and a registry that accepts and never answers.
    const probe = createServer();
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
    refused = `http://127.0.0.1:${(probe.address() as AddressInfo).port}/`;
    await new Promise<void>((r) => probe.close(() => r()));
    silent = createServer((socket) => held.push(socket));
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    silentUrl = `http://127.0.0.1:${(silent.address() as AddressInfo).port}/`;
  });

  after(async () => {
    for (const s of held) s.destroy();
    await new Promise<void>((r) => silent.close(() => r()));
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it("accepts this repository's node_modules as npm ci left it (no second install)", async () => {
    const r = await run('node', [CHECK, repoRoot]);
    assert.equal(r.code, 0, r.out);
  });

  it('installs nothing when node_modules matches the lock, with the registry unreachable', async () => {
    const dir = fixture();
    const r = await run('bash', [SCRIPT], { TAPGATE_ROOT: dir, npm_config_registry: refused });
    assert.equal(r.code, 0, r.out);
    assert.match(r.out, /no install needed/);
    assert.ok(existsSync(join(dir, 'node_modules/left-pad/package.json')));
  });

  it('fails fast and keeps node_modules when the lock changed and the registry refuses connections', async () => {
    const dir = fixture('1.3.0');
    const r = await run('bash', [SCRIPT], { TAPGATE_ROOT: dir, npm_config_registry: refused });
    assert.equal(r.code, 3, r.out);
    assert.match(r.out, /node_modules\/left-pad differs from package-lock\.json/);
    assert.match(r.out, /cannot be reached within 10s/);
    assert.match(r.out, /node_modules was left as it is/);
    assert.ok(r.ms < 15_000, `${r.ms} ms`);
    assert.ok(existsSync(join(dir, 'node_modules/left-pad/package.json')), 'node_modules kept');
  });

  it('gives up after the timeout when the registry accepts and never answers', async () => {
    const dir = fixture('1.3.0');
    const r = await run('bash', [SCRIPT], {
      TAPGATE_ROOT: dir,
      npm_config_registry: silentUrl,
      TAPGATE_REGISTRY_TIMEOUT_S: '3',
    });
    assert.equal(r.code, 3, r.out);
    assert.match(r.out, /cannot be reached within 3s/);
    assert.ok(r.ms < 10_000, `${r.ms} ms`);
    assert.ok(existsSync(join(dir, 'node_modules/left-pad/package.json')), 'node_modules kept');
  });

  it('takes any HTTP answer as a reachable registry (npm ci is then run, not refused)', async () => {
    const http = createHttpServer((_req, res) => res.writeHead(404).end('{}'));
    await new Promise<void>((r) => http.listen(0, '127.0.0.1', r));
    const dir = fixture('1.3.0');
    const r = await run('bash', [SCRIPT], {
      TAPGATE_ROOT: dir,
      npm_config_registry: `http://127.0.0.1:${(http.address() as AddressInfo).port}/`,
      npm_config_fetch_retries: '0',
    });
    await new Promise<void>((r2) => http.close(() => r2()));
    // Past the check: npm ci ran (whatever it made of this fixture), not the "cannot be reached" stop.
    assert.match(r.out, /installing with npm ci/);
    assert.doesNotMatch(r.out, /cannot be reached/);
    assert.notEqual(r.code, 3, r.out);
  });

  it('sees an install cut short or a package removed by hand', async () => {
    const cut = fixture();
    rmSync(join(cut, 'node_modules/.package-lock.json'));
    const r1 = await run('node', [CHECK, cut]);
    assert.equal(r1.code, 1);
    assert.match(r1.out, /never installed, or cut short/);
    const removed = fixture();
    rmSync(join(removed, 'node_modules/left-pad'), { recursive: true });
    const r2 = await run('node', [CHECK, removed]);
    assert.equal(r2.code, 1);
    assert.match(r2.out, /node_modules\/left-pad is not on disk/);
  });
});
