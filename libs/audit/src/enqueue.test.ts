import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { AUDIT_STREAM, AUDIT_SUBJECT, AuditRecord } from '@tapgate/contracts';
import { connectMessaging } from '@tapgate/messaging';
import { startNats, waitFor } from '@tapgate/testing';
import { nanos } from 'nats';
import { GENESIS_HASH, chainRecord } from './chain';
import { AuditError } from './errors';
import { decision, freshTrails } from './test-helpers';
import { AuditTrail } from './trail';

const REPO = join(__dirname, '..', '..', '..');
const dirs: string[] = [];
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'tapgate-audit-spool-'));
  dirs.push(d);
  return d;
}
after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

/** Every stored record in stream order, with the Nats-Msg-Id it was stored under. */
async function storedRecords(trail: AuditTrail) {
  const out: Array<{ seq: number; tapId: string | undefined }> = [];
  for await (const e of trail.records({ from: new Date(0), to: new Date(Date.now() + 3_600_000) })) {
    assert.ok('record' in e, `sequence ${e.seq} is unreadable`);
    out.push({ seq: e.seq, tapId: e.record.tapId });
  }
  return out;
}

describe('AuditTrail.enqueue: records wait for NATS and are stored once, in order', () => {
  it('NATS stopped: N records enqueued, NATS started, all N stored once; the chain verifies', async (t) => {
    const env = await freshTrails(1, { appendTimeoutMs: 1_000, requestTimeoutMs: 500, spoolRetryMaxMs: 500 });
    try {
      await env.trail.append(decision({ tapId: 'before-outage' }));
      await env.nats.stop();
      const n = 300;
      const ids = Array.from({ length: n }, (_, i) => `queued-${i}`);
      for (const tapId of ids) {
        env.trail.enqueue(decision({ tapId, outcome: 'refused', reason: 'internal_error' }));
      }
      assert.equal(env.trail.waiting(), n, 'all of them wait');
      await new Promise((r) => setTimeout(r, 1_500)); // a few failed attempts while NATS is down
      assert.equal(env.trail.waiting(), n, 'nothing is lost while NATS is down');
      await env.nats.start();
      const started = Date.now();
      assert.ok(await env.trail.drained(30_000), `still waiting: ${env.trail.waiting()}`);
      t.diagnostic(`${n} records drained ${Date.now() - started} ms after NATS came back`);
      const stored = await storedRecords(env.trail);
      assert.deepEqual(
        stored.map((s) => s.tapId),
        ['before-outage', ...ids],
        'each record stored exactly once, in enqueue order',
      );
      const report = await env.trail.verifyChain();
      assert.ok(report.ok, JSON.stringify(report));
      assert.equal(report.checked, n + 1);
    } finally {
      await env.dispose();
    }
  });

  it('enqueue never throws: an invalid record is logged and counted, a full spool drops and counts', async () => {
    const env = await freshTrails(1, { spoolMaxRecords: 5, appendTimeoutMs: 500, requestTimeoutMs: 300 });
    try {
      await env.nats.stop();
      env.trail.enqueue({ ...decision(), terminalId: 'not a terminal id' });
      env.trail.enqueue(undefined as never);
      assert.equal(env.trail.waiting(), 0);
      for (let i = 0; i < 8; i++) env.trail.enqueue(decision({ tapId: `full-${i}` }));
      assert.equal(env.trail.waiting(), 5);
      assert.equal(env.trail.droppedCount(), 3);
      await env.nats.start();
      assert.ok(await env.trail.drained(20_000));
      assert.deepEqual(
        (await storedRecords(env.trail)).map((s) => s.tapId),
        ['full-0', 'full-1', 'full-2', 'full-3', 'full-4'],
      );
    } finally {
      await env.dispose();
    }
  });

  it('appends enqueued while NATS is up are stored in order, interleaved with confirmed appends', async () => {
    const env = await freshTrails(2);
    try {
      const [one, two] = env.trails as [AuditTrail, AuditTrail];
      const confirmed: Array<Promise<unknown>> = [];
      for (let i = 0; i < 50; i++) {
        one.enqueue(decision({ tapId: `q1-${i}` }));
        two.enqueue(decision({ tapId: `q2-${i}` }));
        if (i % 10 === 0) confirmed.push(one.append(decision({ tapId: `c-${i}` })));
      }
      await Promise.all(confirmed);
      assert.ok(await one.drained(20_000));
      assert.ok(await two.drained(20_000));
      const stored = (await storedRecords(one)).map((s) => s.tapId!);
      assert.equal(stored.length, 105);
      assert.equal(new Set(stored).size, 105, 'none stored twice');
      for (const prefix of ['q1-', 'q2-']) {
        const mine = stored.filter((id) => id.startsWith(prefix));
        assert.deepEqual(
          mine,
          Array.from({ length: 50 }, (_, i) => `${prefix}${i}`),
          `${prefix} in order`,
        );
      }
      const report = await one.verifyChain();
      assert.ok(report.ok, JSON.stringify(report));
    } finally {
      await env.dispose();
    }
  });
});

describe('AuditTrail.enqueue with a spool folder: records survive a crash', () => {
  it('a process killed (SIGKILL) with records waiting: the next one stores them, once each', async (t) => {
    const env = await freshTrails(1, { appendTimeoutMs: 1_000, requestTimeoutMs: 500 });
    const spoolDir = tempDir();
    try {
      await env.trail.append(decision({ tapId: 'first' }));
      await env.nats.stop();
      const records = Array.from({ length: 40 }, (_, i) => decision({ tapId: `crash-${i}` }));
      // A separate process, as a gateway would be: it spools while NATS is down and is then killed.
      const child = spawn(
        process.execPath,
        [
          '-e',
          `const { AuditTrail } = require('@tapgate/audit');
           const { connectMessaging } = require('@tapgate/messaging');
           const m = connectMessaging({ servers: [process.env.NATS_URL], name: 'spool-child' });
           const trail = new AuditTrail(m, { spoolDir: process.env.SPOOL_DIR, requestTimeoutMs: 300, appendTimeoutMs: 500 });
           for (const r of JSON.parse(process.env.RECORDS)) trail.enqueue(r);
           trail.persisted().then(() => process.stdout.write('persisted ' + trail.waiting() + '\\n'));`,
        ],
        {
          cwd: REPO,
          env: {
            PATH: process.env.PATH,
            TAPGATE_LOG_LEVEL: 'error',
            NATS_URL: env.nats.url,
            SPOOL_DIR: spoolDir,
            RECORDS: JSON.stringify(records),
          },
          stdio: ['ignore', 'pipe', 'inherit'],
        },
      );
      let out = '';
      child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      await waitFor(() => out.includes('persisted'), {
        what: 'the child spooled its records',
        timeoutMs: 15_000,
      });
      assert.match(out, /persisted 40/);
      // While it runs, nobody else may use its journal.
      assert.throws(
        () => new AuditTrail(env.connections[0], { spoolDir }),
        (e: unknown) => e instanceof AuditError && e.code === 'spool_locked',
      );
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGKILL');
      await exited;

      await env.nats.start();
      await waitFor(() => env.connections[0].isConnected(), { what: 'reconnect' });
      const next = new AuditTrail(env.connections[0], { spoolDir, spoolRetryMaxMs: 300 });
      try {
        assert.equal(next.waiting(), 40, 'the journal gave every record back');
        assert.ok(await next.drained(20_000));
        const stored = (await storedRecords(next)).map((s) => s.tapId);
        assert.deepEqual(stored, ['first', ...records.map((r) => r.tapId)]);
        assert.ok((await next.verifyChain()).ok);
        t.diagnostic(`${stored.length - 1} records from the killed process stored once each`);
      } finally {
        await next.close();
      }
      // The drained journal is empty: a third start stores nothing more.
      const third = new AuditTrail(env.connections[0], { spoolDir });
      assert.equal(third.waiting(), 0);
      await third.close();
    } finally {
      await env.dispose();
    }
  });

  it('the journal stays small while NATS is up: it is rewritten every ~1,000 lines', async () => {
    const env = await freshTrails(1);
    const spoolDir = tempDir();
    const trail = new AuditTrail(env.connections[0], { spoolDir });
    try {
      for (let i = 0; i < 1_500; i++) trail.enqueue(decision({ tapId: `steady-${i}` }));
      assert.ok(await trail.drained(60_000));
      await trail.persisted();
      const lines = readFileSync(join(spoolDir, 'audit-spool.jsonl'), 'utf8').split('\n').length;
      assert.ok(lines < 1_500, `the journal has ${lines} lines after 1,500 records (3 lines each)`);
      assert.equal((await storedRecords(trail)).length, 1_500);
    } finally {
      await trail.close();
      await env.dispose();
    }
    const again = new AuditTrail(env.connections[0], { spoolDir });
    assert.equal(again.waiting(), 0, 'nothing to resend after a clean run');
    await again.close();
  });

  it('an attempt stored before a crash is found by its sequence, even after the duplicate window', async () => {
    const nats = await startNats();
    const m = connectMessaging({ servers: [nats.url], name: 'audit-landed' });
    const spoolDir = tempDir();
    try {
      const jsm = await (await m.connection()).jetstreamManager();
      const probe = new AuditTrail(m);
      // The stream as ensureStream makes it, but with a duplicate window of 100 ms.
      await jsm.streams.add({ ...probe.streamConfig(), duplicate_window: nanos(100) });
      await probe.close();
      // A previous process journalled "add" and "try at 1", published, and died before "done".
      const input = decision({ tapId: 'landed-once' });
      const id = 'a1b2c3d4-0000-4000-8000-000000000001';
      await (
        await m.connection()
      )
        .jetstream()
        .publish(AUDIT_SUBJECT, JSON.stringify(chainRecord(input, GENESIS_HASH)), { msgID: id });
      writeFileSync(
        join(spoolDir, 'audit-spool.jsonl'),
        [
          JSON.stringify({ op: 'add', id, enqueuedAt: Date.now(), input }),
          JSON.stringify({ op: 'try', id, seq: 1 }),
          '{"op":"done","id":"torn',
        ].join('\n'),
      );
      await new Promise((r) => setTimeout(r, 300)); // past the duplicate window
      const trail = new AuditTrail(m, { spoolDir });
      try {
        assert.equal(trail.waiting(), 1);
        assert.ok(await trail.drained(10_000));
        const info = await jsm.streams.info(AUDIT_STREAM);
        assert.equal(info.state.messages, 1, 'stored once, not again');
        const stored = await jsm.streams.getMessage(AUDIT_STREAM, { seq: 1 });
        assert.equal((JSON.parse(new TextDecoder().decode(stored.data)) as AuditRecord).tapId, 'landed-once');
      } finally {
        await trail.close();
      }
    } finally {
      await m.close();
      await nats.dispose();
    }
  });
});
