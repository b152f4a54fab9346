import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createReadStream, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { after, before, describe, it } from 'node:test';
import { AUDIT_STREAM } from '@tapgate/contracts';
import { connectMessaging, type Messaging } from '@tapgate/messaging';
import { startNats, type TestServer } from '@tapgate/testing';
import { createAuditApi } from './api';
import { newTally, tallyComplete } from './export';
import { decision, fillTrail, freshTrails } from './test-helpers';
import { AuditTrail } from './trail';

const CLI = join(__dirname, 'cli.js');
const RECORDS = 12_000;
const everything = { from: new Date(0), to: new Date(Date.now() + 3_600_000) };
const tick = () => new Promise((r) => setImmediate(r));

function runCli(
  args: string[],
  env: NodeJS.ProcessEnv,
): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], {
      env: { PATH: process.env.PATH, TAPGATE_LOG_LEVEL: 'error', ...env },
    });
    const out: Buffer[] = [];
    let err = '';
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, out: Buffer.concat(out).toString(), err }));
  });
}

/** The figures the CLI prints on stderr: exported, and what the stream holds. */
function figures(err: string): { exported: number; stream: number } {
  const m = /exported (\d+) records; stream holds (\d+) records/.exec(err);
  assert.ok(m, err);
  return { exported: Number(m[1]), stream: Number(m[2]) };
}

describe(`export of ${RECORDS} records to a slow consumer is complete`, () => {
  let env: Awaited<ReturnType<typeof freshTrails>>;
  const dir = mkdtempSync(join(tmpdir(), 'tapgate-audit-export-'));
  before(async () => {
    env = await freshTrails(1);
    await fillTrail(env.connections[0], env.trail, RECORDS, (i) => decision({ tapId: `big-${i}` }));
  });
  after(async () => {
    await env.dispose();
    rmSync(dir, { recursive: true, force: true });
  });

  it('records(): a consumer that waits between records gets every one, in sequence', async (t) => {
    const tally = newTally();
    let n = 0;
    let expected = 1;
    for await (const e of env.trail.records(everything, tally)) {
      assert.equal(e.seq, expected, 'no sequence skipped');
      expected += 1;
      n += 1;
      await tick(); // one event-loop turn per record was enough to lose half of them
    }
    t.diagnostic(`read ${n} of ${tally.streamMessages} stored`);
    assert.equal(n, RECORDS);
    assert.equal(tally.streamMessages, RECORDS);
    assert.equal(tally.exported, RECORDS);
    assert.ok(tallyComplete(tally));
  });

  it('CLI --out FILE and stdout: every record, and both counts printed', async (t) => {
    const file = join(dir, 'all.csv');
    const toFile = await runCli(['export', '--out', file], { TAPGATE_NATS_SERVERS: env.nats.url });
    assert.equal(toFile.code, 0, toFile.err);
    let rows = 0;
    const seqs = new Set<string>();
    for await (const line of createInterface({ input: createReadStream(file) })) {
      if (rows++ === 0) continue; // header
      seqs.add(line.slice(0, line.indexOf(',')));
    }
    assert.equal(rows - 1, RECORDS);
    assert.equal(seqs.size, RECORDS);
    assert.deepEqual(figures(toFile.err), { exported: RECORDS, stream: RECORDS });
    t.diagnostic(`--out FILE: ${toFile.err.trim()}`);

    const toStdout = await runCli(['export', '--format', 'json'], { TAPGATE_NATS_SERVERS: env.nats.url });
    assert.equal(toStdout.code, 0, toStdout.err);
    const entries = JSON.parse(toStdout.out) as Array<{ seq: number }>;
    assert.equal(entries.length, RECORDS);
    assert.deepEqual(
      entries.map((e) => e.seq),
      Array.from({ length: RECORDS }, (_, i) => i + 1),
    );
    assert.deepEqual(figures(toStdout.err), { exported: RECORDS, stream: RECORDS });
  });

  it('REST: the document and its headers agree with the stream', async () => {
    const api = createAuditApi(env.trail);
    const res = await api.export({ format: 'json' });
    assert.equal(res.status, 200);
    assert.equal((JSON.parse(res.body) as unknown[]).length, RECORDS);
    assert.equal(res.headers!['x-tapgate-audit-records'], String(RECORDS));
    assert.equal(res.headers!['x-tapgate-audit-stream-records'], String(RECORDS));
    assert.equal(res.headers!['x-tapgate-audit-complete'], 'true');
    assert.match(res.headers!['content-disposition'], /filename="tapgate-audit-all\.json"/);
    const csv = await api.export({ format: 'csv' });
    assert.equal(csv.body.split('\r\n').length, RECORDS + 2, 'header, rows, and the empty string after CRLF');
  });
});

describe('a gap in the stream is reported by verify and by export, with its sequence', () => {
  let nats: TestServer;
  let m: Messaging;
  let trail: AuditTrail;
  before(async () => {
    nats = await startNats();
    m = connectMessaging({ servers: [nats.url], name: 'audit-gap' });
    trail = new AuditTrail(m);
    // The stream as ensureStream makes it, except that deletes are allowed: the situation of a trail
    // someone reconfigured (or whose block file lost a message).
    const jsm = await (await m.connection()).jetstreamManager();
    await jsm.streams.add({ ...trail.streamConfig(), deny_delete: false });
    await fillTrail(m, trail, 20, (i) => decision({ tapId: `gap-${i + 1}` }));
    assert.ok((await trail.verifyChain()).ok);
    await jsm.streams.deleteMessage(AUDIT_STREAM, 7);
    await jsm.streams.deleteMessage(AUDIT_STREAM, 20); // the last one too
  });
  after(async () => {
    await trail.close();
    await m.close();
    await nats.dispose();
  });

  it('verify: missing_record at the first missing sequence; a range after it verifies', async () => {
    const report = await trail.verifyChain();
    assert.ok(!report.ok);
    assert.equal(report.brokenAt, 7);
    assert.equal(report.why, 'missing_record');
    assert.equal(report.checked, 6);
    const tail = await trail.verifyChain({ fromSeq: 9, toSeq: 19 });
    assert.ok(tail.ok, JSON.stringify(tail));
    const last = await trail.verifyChain({ fromSeq: 9 });
    assert.ok(!last.ok && last.brokenAt === 20 && last.why === 'missing_record');
    const cli = await runCli(['verify'], { TAPGATE_NATS_SERVERS: nats.url });
    assert.equal(cli.code, 1);
    assert.match(cli.out, /^BROKEN at sequence 7: missing_record/);
  });

  it('export: the missing sequences are counted and listed, and the CLI exits 1', async () => {
    const tally = newTally();
    let n = 0;
    for await (const e of trail.records(everything, tally)) {
      assert.ok('record' in e);
      n += 1;
    }
    assert.equal(n, 18);
    assert.equal(tally.streamMessages, 18);
    assert.deepEqual(tally.missing, [7, 20]);
    assert.equal(tally.missingCount, 2);
    assert.ok(!tallyComplete(tally));
    const cli = await runCli(['export'], { TAPGATE_NATS_SERVERS: nats.url });
    assert.equal(cli.code, 1);
    assert.match(cli.err, /exported 18 records; stream holds 18 records .*2 missing \(sequences 7, 20\)/);
    assert.match(cli.err, /error: the export is incomplete/);
    const rest = await createAuditApi(trail).export({});
    assert.equal(rest.headers!['x-tapgate-audit-missing'], '2');
    assert.equal(rest.headers!['x-tapgate-audit-complete'], 'false');
  });
});
