import {
  ACCEPTS_STATUS_REUSE,
  UserStatusGet,
  UserStatusInvalidate,
  type PolicySettings,
} from '@tapgate/contracts';
import { Messaging } from '@tapgate/messaging';
import { Platform, waitFor, writeUsersFile, type DemoUser } from '@tapgate/testing';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { connectTerminal, enrollBand, Nea, tap } from './harness';

const USERS: DemoUser[] = [
  { sAMAccountName: 'alice', displayName: 'Alice Able', state: 'active' },
  { sAMAccountName: 'bob', displayName: 'Bob Baker', state: 'active' },
];

const DEFAULT_POLICY = (activeDirectory: PolicySettings['activeDirectory']) => ({
  name: 'Default group policy',
  settings: {
    activeDirectory,
    tap: { allowBleTaps: true, allowUidTaps: false, requirePresence: false },
    esign: { secondSignerMustDiffer: true, ceremonyTimeoutSeconds: 120 },
  },
});

describe("the gateway's status memory, end to end: reuse only what user-status offers, forget on every change", () => {
  let platform: Platform;
  let spy: Messaging;
  const dir = mkdtempSync(join(tmpdir(), 'tapgate-e2e-memory-'));
  /** UserStatusGet requests seen on NATS, per user (a plain subscriber sees every request). */
  const asked = new Map<string, number>();
  const askedFor = (user: string) => asked.get(user) ?? 0;

  before(async () => {
    platform = await Platform.start({
      dir,
      logLevel: 'warn',
      users: USERS,
      userStatusCacheExpirySeconds: 3600,
    });
    spy = new Messaging({ servers: [platform.nats.url], name: 'status-memory-spy', requestTimeoutMs: 5000 });
    const nc = await spy.connection();
    nc.subscribe(UserStatusGet.subject, {
      callback: (_err, m) => {
        const user = (JSON.parse(new TextDecoder().decode(m.data)) as { user: { sAMAccountName: string } })
          .user.sAMAccountName;
        asked.set(user, askedFor(user) + 1);
      },
    });
    await nc.flush();
    await platform.api('POST', '/v1/policies', {
      policyId: 'default',
      kind: 'default',
      ...DEFAULT_POLICY({ checkUserStatus: true, cacheUserStatus: true, cacheExpirySeconds: 3600 }),
    });
  });
  after(async () => {
    await spy?.close();
    await platform?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('answers a repeated tap from memory, and asks again after an invalidation, a policy change, or with caching off', async (t) => {
    const ep = await connectTerminal(platform, 'MEM-T1');
    const nea = await Nea.open(platform, 'MEM-T1');
    t.after(async () => {
      nea.close();
      await ep.stop();
    });
    // The offer goes only to askers that say they read it (replicas from before tolerant readers refuse
    // an answer with a field they do not know).
    const bobQuery = { v: 1 as const, user: { sAMAccountName: 'bob' } };
    const plain = await spy.request(UserStatusGet, bobQuery);
    assert.equal(plain.status, 'active');
    assert.equal(plain.reuse, undefined);
    const offered = await spy.request(UserStatusGet, bobQuery, { headers: { [ACCEPTS_STATUS_REUSE]: '1' } });
    assert.ok(offered.reuse && offered.reuse.forMs > 3_500_000, JSON.stringify(offered.reuse));

    const alice = await enrollBand(platform, 'alice');
    const bob = await enrollBand(platform, 'bob');
    const granted = async (band: typeof alice) => {
      const r = await tap(ep, band);
      assert.equal(r.decision.outcome, 'granted', JSON.stringify(r.decision));
    };
    // The first grant (once the enrollment and the default policy reached the gateway) asks user-status.
    await waitFor(async () => (await tap(ep, alice)).decision.outcome === 'granted' || undefined, {
      what: 'alice granted',
    });
    // Repeated taps within the expiry: answered from the gateway's memory, no request.
    await waitFor(
      async () => {
        const before = askedFor('alice');
        await granted(alice);
        await granted(alice);
        return askedFor('alice') === before || undefined;
      },
      { what: 'taps answered without asking user-status' },
    );
    const settled = askedFor('alice');
    for (let i = 0; i < 5; i++) await granted(alice);
    assert.equal(askedFor('alice'), settled, 'five more grants, no request');

    // alice is disabled in the directory: like user-status's own cache, the memory keeps answering until
    // the entry is invalidated (or expires); after the invalidation the very next tap asks and is refused.
    writeUsersFile(
      join(dir, 'users.yaml'),
      USERS.map((u) => (u.sAMAccountName === 'alice' ? { ...u, state: 'disabled' } : u)),
    );
    await sleep(1_200); // user-status looks at its users file at most once a second
    await granted(alice);
    const removed = await spy.request(UserStatusInvalidate, { v: 1, user: { sAMAccountName: 'alice' } });
    assert.equal(removed.removed, true);
    await waitFor(async () => (await tap(ep, alice)).decision.reason === 'user_not_active' || undefined, {
      what: 'alice refused after the invalidation',
    });
    const afterRefusal = askedFor('alice');
    assert.equal((await tap(ep, alice)).decision.reason, 'user_not_active');
    assert.equal(askedFor('alice'), afterRefusal + 1, 'a refusal is never remembered');

    // bob: remembered, then a policy change (a shorter expiry) ends the reuse at once.
    await granted(bob);
    await waitFor(
      async () => {
        const before = askedFor('bob');
        await granted(bob);
        return askedFor('bob') === before || undefined;
      },
      { what: 'bob answered from memory' },
    );
    const bobBefore = askedFor('bob');
    await platform.api(
      'PUT',
      '/v1/policies/default',
      DEFAULT_POLICY({ checkUserStatus: true, cacheUserStatus: true, cacheExpirySeconds: 900 }),
    );
    await waitFor(
      async () => {
        await granted(bob);
        return askedFor('bob') > bobBefore || undefined;
      },
      { what: 'bob asked again after the policy change' },
    );

    // Cache User Status off: user-status offers nothing for reuse, so every tap asks.
    await platform.api(
      'PUT',
      '/v1/policies/default',
      DEFAULT_POLICY({ checkUserStatus: true, cacheUserStatus: false, cacheExpirySeconds: 900 }),
    );
    await sleep(500); // the change reaches user-status and the gateway through their KV watches
    const offBefore = askedFor('bob');
    for (let i = 0; i < 3; i++) await granted(bob);
    assert.equal(askedFor('bob'), offBefore + 3, 'with caching off, every tap asks');
  });
});
