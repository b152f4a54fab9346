import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { AUDIT_SUBJECT } from '@tapgate/contracts';
import { freePort } from '@tapgate/testing';
import { decision, freshTrails } from './test-helpers';

const CLI = join(__dirname, 'cli.js');
const started = Date.now();
/** Seconds from the start of this file, as ISO time: records sit near when the stream stores them. */
const iso = (seconds: number) => new Date(started + seconds * 1000).toISOString();

function run(
  args: string[],
  env: NodeJS.ProcessEnv = {},
): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], {
      env: { PATH: process.env.PATH, TAPGATE_LOG_LEVEL: 'error', ...env },
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, out, err }));
  });
}

describe('audit CLI', () => {
  let env: Awaited<ReturnType<typeof freshTrails>>;
  const dir = mkdtempSync(join(tmpdir(), 'tapgate-audit-cli-'));
  const nats = () => ({ TAPGATE_NATS_SERVERS: env.nats.url });
  before(async () => {
    env = await freshTrails(1);
    await env.trail.append(decision({ at: iso(-120), tapId: 'cli-1' }));
    await env.trail.append(decision({ at: iso(-60), tapId: 'cli-2', esignReason: 'a, "b"' }));
  });
  after(async () => {
    await env.dispose();
    rmSync(dir, { recursive: true, force: true });
  });

  it('verify: exit 0 and the head hash on an intact chain (NATS from TAPGATE_NATS_SERVERS or --nats)', async () => {
    const r = await run(['verify'], nats());
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /^ok: 2 records verified \(sequences 1-2\); head hash [0-9a-f]{64}\n$/);
    const json = await run(['verify', '--json', '--nats', env.nats.url]);
    assert.equal(json.code, 0, json.err);
    assert.equal((JSON.parse(json.out) as { checked: number }).checked, 2);
  });

  it('export: CSV to stdout and JSON to a private file, by record time', async () => {
    const csv = await run(['export', '--from', iso(-120), '--to', iso(-60), '--format', 'csv'], nats());
    assert.equal(csv.code, 0, csv.err);
    const lines = csv.out.split('\r\n');
    assert.match(lines[0], /^seq,at,kind,/);
    assert.equal(lines.length, 3);
    assert.ok(lines[1].includes('cli-1'));
    assert.match(csv.err, /exported 1 records/);
    const file = join(dir, 'out.json');
    const json = await run(
      ['export', '--from', iso(-3600), '--to', iso(3600), '--format', 'json', '--out', file],
      nats(),
    );
    assert.equal(json.code, 0, json.err);
    const entries = JSON.parse(readFileSync(file, 'utf8')) as Array<{
      seq: number;
      record: { tapId: string };
    }>;
    assert.deepEqual(
      entries.map((e) => [e.seq, e.record.tapId]),
      [
        [1, 'cli-1'],
        [2, 'cli-2'],
      ],
    );
    assert.equal(statSync(file).mode & 0o777, 0o600);
  });

  it('usage errors exit 64, an unreachable NATS exits 3', async () => {
    assert.equal((await run(['frobnicate'])).code, 64);
    assert.equal((await run(['export', '--format', 'xml'], nats())).code, 64);
    assert.equal((await run(['export', '--from', 'soon', '--to', '2026-11-29T08:00:00Z'], nats())).code, 64);
    assert.equal((await run(['verify', '--from-seq', '-1'], nats())).code, 64);
    const down = await run(['verify', '--timeout-ms', '500'], {
      TAPGATE_NATS_SERVERS: `nats://127.0.0.1:${await freePort()}`,
    });
    assert.equal(down.code, 3);
    assert.match(down.err, /not connected to NATS/);
    const badConfig = await run(['verify'], { TAPGATE_NATS_SERVERS: 'http://x' });
    assert.equal(badConfig.code, 2);
  });

  it('verify: exit 1 and the sequence once the chain is broken', async () => {
    const nc = await env.connections[0].connection();
    await nc.jetstream().publish(AUDIT_SUBJECT, JSON.stringify({ forged: true }));
    const r = await run(['verify'], nats());
    assert.equal(r.code, 1);
    assert.match(r.out, /^BROKEN at sequence 3: invalid_record/);
    const exp = await run(['export', '--from', iso(-3600), '--to', iso(3600)], nats());
    assert.equal(exp.code, 1, 'an export over unreadable records says so');
    assert.match(exp.err, /1 unreadable \(sequences 3\)/);
  });
});
