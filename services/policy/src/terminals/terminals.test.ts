import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { KvBuckets, TerminalRecord } from '@tapgate/contracts';
import { connectMessaging, openBucket, type Messaging } from '@tapgate/messaging';
import { startNats, type TestServer } from '@tapgate/testing';
import type { KV } from 'nats';
import { startPolicy, type PolicyHarness } from '../testing/policy-harness';

const sha256 = (s: string) => createHash('sha256').update(s, 'utf8').digest('hex');

describe('terminals API', () => {
  let nats: TestServer;
  let policy: PolicyHarness;
  let reader: Messaging;
  let kv: KV;

  before(async () => {
    nats = await startNats();
    policy = await startPolicy(nats.url);
    reader = connectMessaging({ servers: [nats.url], name: 'test-reader' });
    kv = await openBucket(reader, KvBuckets.terminals);
  });

  after(async () => {
    await policy?.close();
    await reader?.close();
    await nats?.dispose();
  });

  async function rawEntry(id: string): Promise<{ text: string; record: TerminalRecord } | undefined> {
    const e = await kv.get(id);
    if (!e || e.operation !== 'PUT') return undefined;
    return { text: e.string(), record: TerminalRecord.parse(e.json()) };
  }

  it('issues a credential once and stores only its SHA-256', async () => {
    const res = await policy.api('POST', '/v1/terminals', {
      body: { terminalId: 'line1-station4', description: 'Line 1' },
    });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    const { credential, terminal } = res.body;
    assert.match(credential, /^[A-Za-z0-9_-]{43}$/);
    assert.equal(Buffer.from(credential, 'base64url').length, 32);
    assert.equal(res.headers.get('cache-control'), 'no-store');
    assert.equal(terminal.terminalId, 'line1-station4');
    assert.equal(terminal.description, 'Line 1');
    assert.equal(terminal.enabled, true);
    assert.equal(terminal.created.by, 'break-glass-admin');
    assert.equal('credentialSha256' in terminal, false);

    const stored = await rawEntry('line1-station4');
    assert.ok(stored);
    assert.equal(stored.record.credentialSha256, sha256(credential));
    assert.equal(stored.text.includes(credential), false);

    // Never shown again: not by GET, not in the list.
    const got = await policy.api('GET', '/v1/terminals/line1-station4');
    assert.equal(got.status, 200);
    assert.equal(JSON.stringify(got.body).includes(credential), false);
    assert.equal('credential' in got.body || 'credentialSha256' in got.body, false);
    const list = await policy.api('GET', '/v1/terminals');
    assert.deepEqual(
      list.body.items.map((t) => t.terminalId),
      ['line1-station4'],
    );
    assert.equal(JSON.stringify(list.body).includes(credential), false);
    assert.equal(JSON.stringify(list.body).includes(stored.record.credentialSha256), false);
  });

  it('rotates the credential: a new one is returned and only its hash is stored', async () => {
    const before = await rawEntry('line1-station4');
    const res = await policy.api('POST', '/v1/terminals/line1-station4/credential');
    assert.equal(res.status, 200, JSON.stringify(res.body));
    const after = await rawEntry('line1-station4');
    assert.ok(before && after);
    assert.notEqual(after.record.credentialSha256, before.record.credentialSha256);
    assert.equal(after.record.credentialSha256, sha256(res.body.credential));
    assert.equal(after.text.includes(res.body.credential), false);
    assert.equal(res.body.terminal.revision > 0, true);
  });

  it('disables and enables a terminal', async () => {
    const d = await policy.api('POST', '/v1/terminals/line1-station4/disable');
    assert.equal(d.status, 200);
    assert.equal(d.body.enabled, false);
    assert.equal((await rawEntry('line1-station4'))?.record.enabled, false);
    const e = await policy.api('POST', '/v1/terminals/line1-station4/enable');
    assert.equal(e.status, 200);
    assert.equal(e.body.enabled, true);
    assert.equal((await rawEntry('line1-station4'))?.record.enabled, true);
  });

  it('pins client certificates by SHA-256 (as openssl prints them), and removes pinning with []', async () => {
    const a = sha256('certificate a');
    const b = sha256('certificate b');
    const openssl = a.toUpperCase().match(/../g)!.join(':');
    const res = await policy.api('PUT', '/v1/terminals/line1-station4/certificates', {
      body: { certificateSha256: [openssl, b] },
    });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.deepEqual(res.body.certificateSha256, [a, b]);
    assert.deepEqual((await rawEntry('line1-station4'))?.record.certificateSha256, [a, b]);
    for (const body of [
      { certificateSha256: ['abc'] },
      { certificateSha256: [a, a] },
      { certificateSha256: Array.from({ length: 9 }, (_, i) => sha256(String(i))) },
      { certificateSha256: 'x' },
      {},
    ]) {
      const bad = await policy.api('PUT', '/v1/terminals/line1-station4/certificates', { body });
      assert.equal(bad.status, 400, JSON.stringify(body));
      assert.equal(bad.body.error.code, 'invalid_request');
    }
    assert.deepEqual((await rawEntry('line1-station4'))?.record.certificateSha256, [a, b]);
    const stale = await policy.api('PUT', '/v1/terminals/line1-station4/certificates', {
      body: { certificateSha256: [] },
      headers: { 'if-match': '1' },
    });
    assert.equal(stale.status, 409);
    const cleared = await policy.api('PUT', '/v1/terminals/line1-station4/certificates', {
      body: { certificateSha256: [] },
    });
    assert.equal(cleared.status, 200);
    assert.equal('certificateSha256' in cleared.body, false);
    assert.equal((await rawEntry('line1-station4'))?.record.certificateSha256, undefined);
    assert.equal(
      (await policy.api('PUT', '/v1/terminals/nope/certificates', { body: { certificateSha256: [] } }))
        .status,
      404,
    );
  });

  it('maps RDP/Citrix clients (addresses, names) to a terminal: validated, normalized, audited', async () => {
    const path = '/v1/terminals/line1-station4/remote-clients';
    const res = await policy.api('PUT', path, {
      body: { addresses: ['10.77.0.21', '::FFFF:10.77.0.22', 'FD00::0001'], names: ['thin07-client'] },
    });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    const stored = { addresses: ['10.77.0.21', '10.77.0.22', 'fd00::1'], names: ['THIN07-CLIENT'] };
    assert.deepEqual(res.body.remoteClients, stored);
    assert.deepEqual((await rawEntry('line1-station4'))?.record.remoteClients, stored);
    for (const body of [
      { addresses: ['10.77.0.300'], names: [] },
      { addresses: ['10.77.0.21', '::ffff:10.77.0.21'], names: [] },
      { addresses: [], names: ['has space'] },
      { addresses: [], names: ['A', 'a'] },
      { addresses: Array.from({ length: 17 }, (_, i) => `10.0.0.${i}`), names: [] },
      { addresses: ['10.0.0.1'] },
      { addresses: [], names: [], extra: true },
    ]) {
      const bad = await policy.api('PUT', path, { body });
      assert.equal(bad.status, 400, JSON.stringify(body));
      assert.equal(bad.body.error.code, 'invalid_request');
    }
    assert.deepEqual((await rawEntry('line1-station4'))?.record.remoteClients, stored);
    const cleared = await policy.api('PUT', path, { body: { addresses: [], names: [] } });
    assert.equal(cleared.status, 200);
    assert.equal('remoteClients' in cleared.body, false);
    assert.equal((await rawEntry('line1-station4'))?.record.remoteClients, undefined);
    const audit = await policy.api('GET', '/v1/audit/admin?target=terminal:line1-station4&limit=50');
    const changes = (audit.body.items as unknown as Array<{ action: string; after?: TerminalRecord }>).filter(
      (r) => r.action === 'terminal.remote-clients',
    );
    assert.equal(changes.length, 2, 'set and cleared, one audit record each');
    assert.ok(changes.some((r) => JSON.stringify(r.after?.remoteClients) === JSON.stringify(stored)));
    assert.equal(
      (await policy.api('PUT', '/v1/terminals/nope/remote-clients', { body: { addresses: [], names: [] } }))
        .status,
      404,
    );
  });

  it('refuses a duplicate terminal with 409 and keeps the first credential', async () => {
    const before = await rawEntry('line1-station4');
    const res = await policy.api('POST', '/v1/terminals', { body: { terminalId: 'line1-station4' } });
    assert.equal(res.status, 409);
    assert.equal(res.body.error.field, 'terminalId');
    assert.equal(res.body.credential, undefined);
    assert.deepEqual((await rawEntry('line1-station4'))?.record, before?.record);
  });

  it('turns two rotations based on the same revision into one success and one 409', async () => {
    const current = await policy.api('GET', '/v1/terminals/line1-station4');
    const rev = String(current.body.revision);
    const results = await Promise.all([
      policy.api('POST', '/v1/terminals/line1-station4/credential', { headers: { 'if-match': rev } }),
      policy.api('POST', '/v1/terminals/line1-station4/credential', { headers: { 'if-match': rev } }),
    ]);
    assert.deepEqual(results.map((r) => r.status).sort(), [200, 409]);
    const winner = results.find((r) => r.status === 200)!;
    assert.equal((await rawEntry('line1-station4'))?.record.credentialSha256, sha256(winner.body.credential));
  });

  it('validates ids and bodies, and answers 404 for unknown terminals', async () => {
    const bad = await policy.api('POST', '/v1/terminals', { body: { terminalId: 'bad id' } });
    assert.equal(bad.status, 400);
    assert.equal(bad.body.error.field, 'terminalId');
    const long = await policy.api('POST', '/v1/terminals', {
      body: { terminalId: 't2', description: 'x'.repeat(300) },
    });
    assert.equal(long.status, 400);
    assert.equal(long.body.error.field, 'description');
    const extra = await policy.api('POST', '/v1/terminals', {
      body: { terminalId: 't2', credentialSha256: 'a'.repeat(64) },
    });
    assert.equal(extra.status, 400);
    assert.equal(extra.body.error.field, 'credentialSha256');
    assert.equal(await rawEntry('t2'), undefined);
    for (const [method, path] of [
      ['GET', '/v1/terminals/nope'],
      ['POST', '/v1/terminals/nope/credential'],
      ['POST', '/v1/terminals/nope/disable'],
      ['DELETE', '/v1/terminals/nope'],
    ] as const) {
      assert.equal((await policy.api(method, path)).status, 404, `${method} ${path}`);
    }
  });

  it('deletes a terminal', async () => {
    assert.equal((await policy.api('DELETE', '/v1/terminals/line1-station4')).status, 204);
    assert.equal(await rawEntry('line1-station4'), undefined);
    assert.equal((await policy.api('GET', '/v1/terminals/line1-station4')).status, 404);
    assert.deepEqual((await policy.api('GET', '/v1/terminals')).body.items, []);
  });
});
