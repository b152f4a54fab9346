import assert from 'node:assert/strict';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { AUDIT_STREAM, AUDIT_SUBJECT, AuditRecord } from '@tapgate/contracts';
import { connectMessaging } from '@tapgate/messaging';
import { startNats, waitFor } from '@tapgate/testing';
import { DiscardPolicy, StorageType } from 'nats';
import { createAuditApi } from './api';
import { GENESIS_HASH, recordHash } from './chain';
import { AuditError } from './errors';
import { decision, freshTrails } from './test-helpers';
import { AuditTrail } from './trail';

type Env = Awaited<ReturnType<typeof freshTrails>>;

describe('AuditTrail on a real JetStream', () => {
  let env: Env;
  before(async () => {
    env = await freshTrails(2);
  });
  after(() => env.dispose());

  it('creates an append-only file stream that refuses deletes and purges', async () => {
    const jsm = await (await env.connections[0].connection()).jetstreamManager();
    const { config } = await jsm.streams.info(AUDIT_STREAM);
    assert.deepEqual(config.subjects, [AUDIT_SUBJECT]);
    assert.equal(config.storage, StorageType.File);
    assert.equal(config.deny_delete, true);
    assert.equal(config.deny_purge, true);
    assert.equal(config.discard, DiscardPolicy.New);
    assert.equal(config.max_age, 0);
    await env.trail.append(decision());
    await assert.rejects(jsm.streams.deleteMessage(AUDIT_STREAM, 1), /not permitted/);
    await assert.rejects(jsm.streams.purge(AUDIT_STREAM), /not permitted/);
    await env.trail.ensureStream(); // idempotent
  });

  it('links each record to the one before; the chain verifies', async () => {
    const before = await env.trail.verifyChain();
    assert.ok(before.ok);
    const a = await env.trail.append(decision());
    const b = await env.trail.append(
      decision({ outcome: 'refused', reason: 'user_not_active', status: 'disabled' }),
    );
    assert.equal(b.seq, a.seq + 1);
    assert.equal(b.record.prevHash, a.record.hash);
    assert.equal(a.record.hash, recordHash(a.record));
    const report = await env.trail.verifyChain();
    assert.ok(report.ok, JSON.stringify(report));
    assert.equal(report.lastSeq, b.seq);
    assert.equal(report.lastHash, b.record.hash);
    assert.equal(report.checked, before.checked + 2);
    const range = await env.trail.verifyChain({ fromSeq: a.seq, toSeq: b.seq });
    assert.deepEqual(range, {
      ok: true,
      checked: 2,
      firstSeq: a.seq,
      lastSeq: b.seq,
      lastHash: b.record.hash,
    });
  });

  it('two writers appending at once yield one valid chain', async () => {
    const [one, two] = env.trails as [AuditTrail, AuditTrail];
    const n = 40;
    const results = await Promise.all(
      Array.from({ length: n }, (_, i) => [
        one.append(decision({ gateway: 'gw-a', tapId: `a-${i}` })),
        two.append(decision({ gateway: 'gw-b', tapId: `b-${i}` })),
      ]).flat(),
    );
    const seqs = results.map((r) => r.seq).sort((x, y) => x - y);
    assert.equal(new Set(seqs).size, 2 * n, 'every append got its own sequence');
    assert.equal(seqs.at(-1)! - seqs[0] + 1, 2 * n, 'and they are contiguous');
    const bySeq = new Map(results.map((r) => [r.seq, r.record]));
    for (const seq of seqs.slice(1)) assert.equal(bySeq.get(seq)!.prevHash, bySeq.get(seq - 1)!.hash);
    const report = await env.trail.verifyChain();
    assert.ok(report.ok, JSON.stringify(report));
  });

  it('an invalid record is refused before anything is stored', async () => {
    const before = await env.trail.verifyChain();
    await assert.rejects(
      env.trail.append({ ...decision(), terminalId: 'no spaces allowed' }),
      (e: unknown) => e instanceof AuditError && e.code === 'invalid_record' && /terminalId/.test(e.message),
    );
    await assert.rejects(
      env.trail.append({ ...decision(), hash: 'f'.repeat(64) } as never),
      (e: unknown) => e instanceof AuditError && e.code === 'invalid_record',
    );
    assert.equal((await env.trail.verifyChain()).checked, before.checked);
  });

  it('exports a time range by record time as CSV and JSON', async () => {
    const base = Date.parse('2026-11-29T08:00:00.000Z');
    const at = (min: number) => new Date(base + min * 60_000).toISOString();
    await env.trail.append(decision({ at: at(-1), tapId: 'before' }));
    await env.trail.append(decision({ at: at(0), tapId: 'first' }));
    await env.trail.append(
      decision({
        at: at(5),
        tapId: 'esign',
        kind: 'esign',
        outcome: 'completed',
        esignReason: 'Edit, "Line 1"',
        ceremonyId: 'c-9',
      }),
    );
    await env.trail.append(decision({ at: at(10), tapId: 'at-end' }));
    const range = { from: new Date(base), to: new Date(base + 10 * 60_000), marginMs: 24 * 3_600_000 };

    const json = await env.trail.exportRange({ ...range, format: 'json' });
    assert.equal(json.contentType, 'application/json');
    const entries = JSON.parse(json.body) as Array<{ seq: number; record: AuditRecord }>;
    assert.deepEqual(
      entries.map((e) => e.record.tapId),
      ['first', 'esign'],
      'from is inclusive, to exclusive',
    );
    for (const e of entries) assert.equal(recordHash(e.record), e.record.hash);
    assert.deepEqual(json.unreadable, []);

    const csv = await env.trail.exportRange({ ...range, format: 'csv' });
    const lines = csv.body.split('\r\n');
    assert.match(lines[0], /^seq,at,kind,outcome,/);
    assert.equal(lines.length, 4, 'header, two rows, and the empty string after the final CRLF');
    assert.ok(lines[2].includes('"Edit, ""Line 1"""'), lines[2]);
    assert.ok(lines[2].startsWith(`${entries[1].seq},${at(5)},esign,completed,`));
  });

  it('API: verify and export answer framework-free responses; bad queries get 400', async () => {
    const api = createAuditApi(env.trail);
    const ok = await api.verify({});
    assert.equal(ok.status, 200);
    assert.equal((JSON.parse(ok.body) as { ok: boolean }).ok, true);
    assert.equal((await api.verify({ fromSeq: '0' })).status, 400);
    assert.equal((await api.verify({ nope: '1' })).status, 400);
    const exp = await api.export({ from: '2026-11-29T08:00:00Z', to: '2026-11-29T09:00:00Z', format: 'csv' });
    assert.equal(exp.status, 200);
    assert.equal(exp.contentType, 'text/csv; charset=utf-8');
    assert.match(exp.headers!['content-disposition'], /attachment; filename="tapgate-audit-.*\.csv"/);
    assert.equal(
      (await api.export({ from: '2026-11-29T09:00:00Z', to: '2026-11-29T08:00:00Z' })).status,
      400,
    );
    assert.equal((await api.export({ from: 'yesterday', to: '2026-11-29T08:00:00Z' })).status, 400);
    assert.equal(
      (await api.export({ to: '2026-11-29T08:00:00Z' })).status,
      200,
      'from defaults to the beginning',
    );
    assert.equal((await api.export({ format: 'xml' })).status, 400);
  });
});

describe('AuditTrail: breaks in the chain are found', () => {
  it('a forged record appended by someone with publish rights breaks the chain at its sequence', async () => {
    const env = await freshTrails(1);
    try {
      await env.trail.append(decision());
      await env.trail.append(decision());
      const nc = await env.connections[0].connection();
      const forged = { ...decision({ user: { sAMAccountName: 'mallory' } }), prevHash: GENESIS_HASH };
      const js = nc.jetstream();
      await js.publish(AUDIT_SUBJECT, JSON.stringify({ ...forged, hash: recordHash(forged) }));
      const report = await env.trail.verifyChain();
      assert.deepEqual(pick(report), { brokenAt: 3, why: 'prev_hash_mismatch', checked: 2 });
      // The legitimate writer carries on after it; the break stays visible where it is.
      const next = await env.trail.append(decision());
      assert.equal(next.seq, 4);
      assert.deepEqual(pick(await env.trail.verifyChain()), {
        brokenAt: 3,
        why: 'prev_hash_mismatch',
        checked: 2,
      });
      assert.ok((await env.trail.verifyChain({ fromSeq: 4 })).ok);
      await js.publish(AUDIT_SUBJECT, '{"v":1,"not":"a record"}');
      assert.deepEqual(pick(await env.trail.verifyChain({ fromSeq: 4 })), {
        brokenAt: 5,
        why: 'invalid_record',
        checked: 1,
      });
      // The next append links over the damaged head rather than stopping the trail.
      assert.equal((await env.trail.append(decision())).seq, 6);
      const api = createAuditApi(env.trail);
      assert.equal((JSON.parse((await api.verify({})).body) as { brokenAt: number }).brokenAt, 3);
    } finally {
      await env.dispose();
    }
  });

  it('Tampering with a stored record is detected', async (t) => {
    const env = await freshTrails(1);
    try {
      const appended = [];
      for (let i = 1; i <= 5; i++) appended.push(await env.trail.append(decision({ tapId: `tamper-${i}` })));
      assert.ok((await env.trail.verifyChain()).ok);

      // An attacker with access to the server's disk: stop NATS, change one character inside the third
      // record's JSON (same length), start NATS again.
      await env.nats.stop();
      const msgs = join(env.nats.storeDir!, 'jetstream', '$G', 'streams', AUDIT_STREAM, 'msgs');
      const blk = readdirSync(msgs).find((f) => f.endsWith('.blk'))!;
      const bytes = readFileSync(join(msgs, blk));
      const at = bytes.indexOf('"tapId":"tamper-3"');
      assert.ok(at > 0, 'the record is in the block file');
      const target = at + '"tapId":"tamper-'.length;
      bytes[target] = '9'.charCodeAt(0);
      writeFileSync(join(msgs, blk), bytes);
      await env.nats.start();
      await waitFor(() => env.connections[0].isConnected(), { what: 'reconnect' });

      const report = await env.trail.verifyChain();
      assert.equal(report.ok, false);
      assert.ok(!report.ok);
      assert.equal(report.brokenAt, appended[2].seq);
      assert.equal(report.checked, 2);
      // nats-server checks each message's stored checksum and no longer returns the edited one, so the
      // chain has a hole there. (A server returning the edited bytes would make this a hash_mismatch.)
      assert.ok(['missing_record', 'hash_mismatch'].includes(report.why), report.why);
      t.diagnostic(`verify after the edit: broken at ${report.brokenAt}, ${report.why} (${report.detail})`);
      // A range starting right after the damage cannot anchor on it; one starting later verifies.
      const after3 = await env.trail.verifyChain({ fromSeq: appended[3].seq });
      assert.ok(!after3.ok && after3.brokenAt === appended[2].seq && after3.why === report.why);
      assert.ok((await env.trail.verifyChain({ fromSeq: appended[4].seq })).ok);
      // Appending still works; the damage stays reported at the same place.
      await env.trail.append(decision());
      const again = await env.trail.verifyChain();
      assert.ok(!again.ok && again.brokenAt === appended[2].seq);
    } finally {
      await env.dispose();
    }
  });

  it('ensureStream refuses an existing stream that could lose records', async () => {
    const nats = await startNats();
    const m = connectMessaging({ servers: [nats.url], name: 'audit-weak' });
    try {
      const jsm = await (await m.connection()).jetstreamManager();
      await jsm.streams.add({
        name: AUDIT_STREAM,
        subjects: [AUDIT_SUBJECT],
        max_age: 3_600_000_000_000,
        max_bytes: 1_000_000,
      });
      await assert.rejects(
        new AuditTrail(m).ensureStream(),
        (e: unknown) =>
          e instanceof AuditError &&
          e.code === 'stream_misconfigured' &&
          /deny_delete is off, deny_purge is off, max_age removes old records, limits discard old records/.test(
            e.message,
          ),
      );
    } finally {
      await m.close();
      await nats.dispose();
    }
  });

  it('without NATS, appends and reads fail within their timeouts with unavailable', async () => {
    const env = await freshTrails(1, { appendTimeoutMs: 800, requestTimeoutMs: 500 });
    try {
      await env.trail.append(decision());
      await env.nats.stop();
      const started = Date.now();
      await assert.rejects(
        env.trail.append(decision()),
        (e: unknown) => e instanceof AuditError && e.code === 'unavailable',
      );
      assert.ok(Date.now() - started < 3_000, `took ${Date.now() - started} ms`);
      const api = createAuditApi(env.trail);
      assert.equal((await api.verify({})).status, 503);
      // Back up, the next append links to the head as usual.
      await env.nats.start();
      await waitFor(() => env.connections[0].isConnected(), { what: 'reconnect' });
      await env.trail.append(decision());
      assert.ok((await env.trail.verifyChain()).ok);
    } finally {
      // (Messaging.close() while NATS is down leaves nats.js reconnect timers running; NATS is up here.)
      await env.dispose();
    }
  });
});

function pick(report: Awaited<ReturnType<AuditTrail['verifyChain']>>) {
  return report.ok ? { ok: true } : { brokenAt: report.brokenAt, why: report.why, checked: report.checked };
}
