/* eslint-disable @typescript-eslint/no-unsafe-member-access, @typescript-eslint/no-unsafe-assignment -- API bodies are read loosely; the assertions check them */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { loadAgentConfig } from '@tapgate/config';
import {
  CACHE_EXPIRY_CHOICES,
  UserStatusGet,
  UserStatusInvalidate,
  type StatusAnswer,
} from '@tapgate/contracts';
import { connectMessaging, type Messaging } from '@tapgate/messaging';
import { startPolicy, type PolicyHarness } from '@tapgate/policy';
import {
  freePort,
  startNats,
  startRedis,
  startSambaAd,
  waitFor,
  type SambaAd,
  type TestServer,
} from '@tapgate/testing';
import { CONFIG_SECTIONS, bootstrap, type UserStatusApp } from '@tapgate/user-status';
import { Attribute, Change, type Client } from 'ldapts';
import type { GatewaySettings } from '../settings';
import { KvTapPolicySource } from './tap-policy-source';

type Body = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

// The gateway runs with presence required and a 90 s ceremony timeout; user-status with 900 s expiry.
const GATEWAY = {
  gatewayId: 'gw-effective',
  tapPolicy: { allowUidTaps: false, allowBleTaps: true, requirePresence: true },
  esignTimeoutMs: 90_000,
} as GatewaySettings;

/** Deterministic randomness, so a failing seed can be replayed (TAPGATE_TEST_SEED). */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

// One Samba domain for every case here (provisioning is the slow part): groups nested and primary.
describe('one effective policy: what the API explains is what user-status and the gateway enforce', () => {
  let ad: SambaAd;
  let nats: TestServer;
  let redis: TestServer;
  let policy: PolicyHarness;
  let userStatus: UserStatusApp;
  /** Two gateway replicas, each with its own NATS connection and KV watch. */
  let gateways: KvTapPolicySource[];
  let client: Messaging;
  const gatewayConns: Messaging[] = [];
  let dir: string;
  const groupDn = (cn: string) => `CN=${cn},${ad.usersDn}`;

  const api = async (
    method: string,
    path: string,
    body?: unknown,
  ): Promise<{ status: number; body: Body }> => {
    const r = await policy.api(method, path, body === undefined ? {} : { body });
    return { status: r.status, body: r.body as unknown as Body };
  };
  const ask = (user: string): Promise<StatusAnswer> =>
    client.request(UserStatusGet, { v: 1, user: { sAMAccountName: user } });
  const invalidate = (user: string) =>
    client.request(UserStatusInvalidate, { v: 1, user: { sAMAccountName: user } });
  const clearPolicies = async () => {
    for (const p of (await api('GET', '/v1/policies')).body.items as Body[]) {
      assert.equal((await api('DELETE', `/v1/policies/${p.policyId}`)).status, 204);
    }
  };
  const create = async (p: Body) => {
    const r = await api('POST', '/v1/policies', p);
    assert.equal(r.status, 201, JSON.stringify(r.body));
  };
  /** Waits until the policy service sees `count` policies and both watchers had time (the 1 s bound). */
  const settle = async (count: number) => {
    await waitFor(async () => (await api('GET', '/v1/policies')).body.items.length === count, {
      what: 'policies stored',
    });
    await new Promise((r) => setTimeout(r, 1_000));
  };

  before(async () => {
    [ad, nats, redis] = await Promise.all([startSambaAd(), startNats(), startRedis()]);
    dir = mkdtempSync(join(tmpdir(), 'effective-policy-'));
    writeFileSync(join(dir, 'bind.pw'), `${ad.serviceAccount.password}\n`);
    await ad.asAdmin(async (c) => {
      const group = (cn: string) =>
        c.add(groupDn(cn), [
          new Attribute({ type: 'objectClass', values: ['top', 'group'] }),
          new Attribute({ type: 'sAMAccountName', values: [cn] }),
        ]);
      const addMember = (cn: string, member: string) =>
        c.modify(
          groupDn(cn),
          new Change({ operation: 'add', modification: new Attribute({ type: 'member', values: [member] }) }),
        );
      for (const g of ['tgOuter', 'tgInner', 'tgPrim', 'tgOther', 'tgCheckOff', 'tgFast']) await group(g);
      await addMember('tgOuter', groupDn('tgInner')); // tgInner is nested in tgOuter
      for (const u of ['pa', 'pb', 'pc', 'pd', 'pe']) {
        await ad.createUser(u, { displayName: u.toUpperCase() });
      }
      await addMember('tgInner', ad.userDn('pa'));
      await addMember('tgPrim', ad.userDn('pb'));
      await setPrimaryGroup(c, ad.userDn('pb'), groupDn('tgPrim'));
      await addMember('tgOther', ad.userDn('pc'));
      await addMember('tgCheckOff', ad.userDn('pd'));
      await addMember('tgFast', ad.userDn('pe'));
    });
    await ad.disableUser('pd');
    policy = await startPolicy(nats.url);
    userStatus = await bootstrap({
      config: loadAgentConfig({
        env: {
          TAPGATE_HTTP_HOST: '127.0.0.1',
          TAPGATE_HTTP_PORT: String(await freePort()),
          TAPGATE_AGENT_LOG_LEVEL: 'warn',
          TAPGATE_NATS_SERVERS: nats.url,
          TAPGATE_REDIS_URL: redis.url,
          TAPGATE_LDAP_URL: ad.ldapsUrl,
          TAPGATE_LDAP_BASE_DN: ad.baseDn,
          TAPGATE_LDAP_BIND_DN: ad.serviceAccount.userPrincipalName,
          TAPGATE_LDAP_BIND_PASSWORD_FILE: join(dir, 'bind.pw'),
          TAPGATE_LDAP_CA_FILE: ad.caFile,
          TAPGATE_USER_STATUS_CACHE_EXPIRY_SECONDS: '900',
        },
        sections: CONFIG_SECTIONS,
      }),
    });
    client = connectMessaging({
      servers: [nats.url],
      name: 'effective-policy-test',
      requestTimeoutMs: 5_000,
    });
    await client.connection();
    gateways = ['gw-a', 'gw-b'].map((gatewayId) => {
      const conn = connectMessaging({ servers: [nats.url], name: gatewayId });
      gatewayConns.push(conn);
      return new KvTapPolicySource(conn, { ...GATEWAY, gatewayId });
    });
    for (const g of gateways) g.onModuleInit();
  });

  after(async () => {
    for (const g of gateways ?? []) await g.onModuleDestroy();
    for (const c of gatewayConns) await c.close();
    await client?.close();
    await userStatus?.close();
    await policy?.close();
    await Promise.all([ad?.dispose(), nats?.dispose(), redis?.dispose()]);
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('reports direct, nested and primary groups, and explains from what the services run with', async (t) => {
    const pa = await ask('pa');
    assert.ok(pa.groups?.includes(groupDn('tgInner')), JSON.stringify(pa.groups));
    assert.ok(pa.groups?.includes(groupDn('tgOuter')), 'nested: tgInner is a member of tgOuter');
    assert.ok(
      pa.groups?.some((g) => /^CN=Domain Users,/i.test(g)),
      'primary group Domain Users',
    );
    const pb = await ask('pb');
    assert.ok(pb.groups?.includes(groupDn('tgPrim')), `primary group tgPrim: ${JSON.stringify(pb.groups)}`);
    // The cost of a directory read with the group expansion (three searches), for docs/architecture.md.
    const began = performance.now();
    for (let i = 0; i < 20; i++) await userStatus.directory.lookup({ sAMAccountName: 'pa' });
    t.diagnostic(`directory read incl. group expansion: ${((performance.now() - began) / 20).toFixed(1)} ms`);

    // No policy at all: explain shows the services' configuration, reported by the running replicas.
    const e = await waitFor(
      async () => {
        const r = (await api('GET', '/v1/policies/effective?user=pa')).body;
        return r.baseline.missing.length === 0 ? r : undefined;
      },
      { what: 'both services reported their baselines' },
    );
    assert.equal(e.settings.tap.requirePresence, true, '[gateway] require_presence as the gateway runs');
    assert.equal(e.explain['tap.requirePresence'].key, '[gateway] require_presence');
    assert.equal(e.settings.esign.ceremonyTimeoutSeconds, 90);
    assert.equal(e.settings.activeDirectory.cacheExpirySeconds, 900);
    assert.equal(e.explain['activeDirectory.cacheExpirySeconds'].key, '[user_status] cache_expiry_seconds');
    for (const g of gateways) assert.deepEqual(g.forUser('pa', pa.groups), e.settings.tap);
  });

  it('a group with Check User Status off is not checked; an individual Cache User Status off is not cached', async () => {
    await clearPolicies();
    await create({
      policyId: 'checkoff',
      kind: 'group',
      name: 'Check off',
      group: 'tgCheckOff',
      settings: { activeDirectory: { checkUserStatus: false } },
    });
    await create({
      policyId: 'pc-nocache',
      kind: 'user',
      name: 'pc no cache',
      user: 'pc',
      settings: { activeDirectory: { cacheUserStatus: false } },
    });
    await settle(2);
    const pd = await ask('pd'); // disabled in AD, but in the Check-off group
    assert.equal(pd.status, 'not_configured', JSON.stringify(pd));
    assert.ok(pd.groups?.includes(groupDn('tgCheckOff')), 'the answer carries the groups it was judged with');
    await invalidate('pc');
    const sources = [(await ask('pc')).source, (await ask('pc')).source];
    assert.deepEqual(sources, ['directory', 'directory']);
    await invalidate('pa');
    assert.deepEqual([(await ask('pa')).source, (await ask('pa')).source], ['directory', 'cache']);
  });

  it('a group Cache Expiry of 30 s refuses a user disabled after caching within ~30 s, not 900 s', async (t) => {
    await clearPolicies();
    await create({
      policyId: 'fast',
      kind: 'group',
      name: 'Fast',
      group: groupDn('tgFast'),
      settings: { activeDirectory: { cacheExpirySeconds: 30 } },
    });
    await settle(1);
    await invalidate('pe');
    const first = await ask('pe');
    assert.equal(first.status, 'active');
    const filledAt = Date.parse(first.checkedAt);
    await ad.disableUser('pe');
    assert.equal((await ask('pe')).source, 'cache');
    const refused = await waitFor(
      async () => {
        const a = await ask('pe');
        return a.status === 'disabled' ? a : undefined;
      },
      { timeoutMs: 40_000, intervalMs: 250, what: 'pe refused as disabled' },
    );
    const after = Date.parse(refused.checkedAt) - filledAt;
    t.diagnostic(`disabled user refused ${after} ms after caching (group expiry 30 s, default 900 s)`);
    assert.ok(after >= 30_000 && after < 32_000, `${after} ms`);
    await ad.enableUser('pe');
  });

  it('random default, group and user policies: explain = user-status = gateway, field by field', async (t) => {
    const seed = Number(process.env.TAPGATE_TEST_SEED ?? Date.now() % 1_000_000);
    t.diagnostic(`seed ${seed} (TAPGATE_TEST_SEED=${seed} replays it)`);
    const rnd = prng(seed);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)];
    const users = ['pa', 'pb', 'pc', 'pd', 'pe'];
    const groups = ['tgOuter', 'tgInner', groupDn('tgOuter'), 'tgPrim', 'tgOther', 'Domain Users', 'tgFast'];
    const randomSettings = (): Body => {
      const s: Body = {};
      const maybe = (section: string, field: string, value: () => unknown) => {
        if (rnd() < 0.4) (s[section] ??= {})[field] = value();
      };
      const bool = () => rnd() < 0.5;
      maybe('activeDirectory', 'checkUserStatus', bool);
      maybe('activeDirectory', 'cacheUserStatus', bool);
      maybe('activeDirectory', 'cacheExpirySeconds', () => pick(CACHE_EXPIRY_CHOICES));
      maybe('tap', 'allowBleTaps', bool);
      maybe('tap', 'allowUidTaps', bool);
      maybe('tap', 'requirePresence', bool);
      maybe('esign', 'secondSignerMustDiffer', bool);
      maybe('esign', 'ceremonyTimeoutSeconds', () => 10 + Math.floor(rnd() * 3590));
      return s;
    };
    let compared = 0;
    for (let round = 0; round < 10; round++) {
      await clearPolicies();
      let count = 0;
      if (rnd() < 0.8) {
        await create({ policyId: 'default', kind: 'default', name: 'D', settings: randomSettings() });
        count++;
      }
      for (let i = 0; i < 1 + Math.floor(rnd() * 3); i++, count++) {
        await create({
          policyId: `g${i}`,
          kind: 'group',
          name: `G${i}`,
          group: pick(groups),
          priority: Math.floor(rnd() * 3),
          active: rnd() < 0.85,
          settings: randomSettings(),
        });
      }
      for (const u of users.filter(() => rnd() < 0.3)) {
        await create({ policyId: `u-${u}`, kind: 'user', name: u, user: u, settings: randomSettings() });
        count++;
      }
      await settle(count);
      for (const u of users) {
        const e = (await api('GET', `/v1/policies/effective?user=${u}`)).body;
        const why = `seed ${seed} round ${round} ${u}: ${JSON.stringify(e.explain)}`;
        const ad1 = e.settings.activeDirectory;
        // user-status: its decisions for this user, with the groups it reads itself.
        await invalidate(u);
        const a1 = await ask(u);
        const a2 = await ask(u);
        // Groups are read whenever a group policy could matter to the user; else the answer may omit them.
        assert.deepEqual(a1.groups ?? [], e.groups, `groups ${why}`);
        if (!ad1.checkUserStatus) {
          assert.deepEqual([a1.status, a2.status], ['not_configured', 'not_configured'], `check off ${why}`);
        } else {
          assert.notEqual(a1.status, 'not_configured', `check on ${why}`);
          assert.equal(a1.source, 'directory', why);
          assert.equal(a2.source, ad1.cacheUserStatus ? 'cache' : 'directory', `cache ${why}`);
        }
        assert.deepEqual(
          userStatus.policy.forUser({ sAMAccountName: u, groups: a1.groups }).settings,
          ad1,
          `user-status settings ${why}`,
        );
        // Each gateway: the tap settings with the groups user-status answered with (the tap path).
        for (const g of gateways) {
          assert.deepEqual(g.forUser(u, a1.groups), e.settings.tap, `gateway tap ${why}`);
        }
        compared++;
      }
      // Ceremonies open before anyone taps: the gateway applies what a user inherits from the default.
      const inh = (await api('GET', '/v1/policies/inherited')).body.inherited.settings.esign;
      for (const g of gateways) {
        assert.equal(g.esignTimeoutMs(), inh.ceremonyTimeoutSeconds * 1000, `seed ${seed} round ${round}`);
        assert.equal(g.secondSignerMustDiffer(), inh.secondSignerMustDiffer);
      }
    }
    t.diagnostic(`${compared} user x policy-set combinations compared`);
  });
});

/** Makes `groupDn` the user's primary group: AD takes the group's RID (the last part of its SID). */
async function setPrimaryGroup(c: Client, userDn: string, groupDn: string): Promise<void> {
  const found = await c.search(groupDn, {
    scope: 'base',
    attributes: ['objectSid'],
    explicitBufferAttributes: ['objectSid'],
  });
  const sid = found.searchEntries[0]?.objectSid;
  assert.ok(Buffer.isBuffer(sid), 'objectSid');
  const rid = sid.readUInt32LE(sid.length - 4);
  await c.modify(
    userDn,
    new Change({
      operation: 'replace',
      modification: new Attribute({ type: 'primaryGroupID', values: [String(rid)] }),
    }),
  );
}
