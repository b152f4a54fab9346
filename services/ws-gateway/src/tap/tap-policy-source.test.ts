import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { connectMessaging, type Messaging } from '@tapgate/messaging';
import { startPolicy, type PolicyHarness } from '@tapgate/policy';
import { startNats, waitFor, type TestServer } from '@tapgate/testing';
import { KvPolicySource } from '@tapgate/user-status';
import type { GatewaySettings } from '../settings';
import { KvTapPolicySource } from './tap-policy-source';

const settings = {
  gatewayId: 'gw-test',
  tapPolicy: { allowUidTaps: false, allowBleTaps: true, requirePresence: false },
  esignTimeoutMs: 90_000,
} as GatewaySettings;

// A policy saved through the policy API reaches user-status and every gateway replica through KV
// watches; this measures how long that takes (the bound is 1 s).
describe('policy changes reach user-status and gateway replicas', () => {
  let nats: TestServer;
  let policy: PolicyHarness;
  const conns: Messaging[] = [];
  let userStatus: KvPolicySource;
  let gateways: KvTapPolicySource[];

  before(async () => {
    nats = await startNats();
    policy = await startPolicy(nats.url);
    const conn = () => {
      const m = connectMessaging({ servers: [nats.url], name: 'watcher' });
      conns.push(m);
      return m;
    };
    userStatus = new KvPolicySource(conn(), {
      checkUserStatus: true,
      cacheUserStatus: true,
      cacheExpirySeconds: 900,
    }).start();
    gateways = [new KvTapPolicySource(conn(), settings), new KvTapPolicySource(conn(), settings)];
    for (const g of gateways) g.onModuleInit();
    await waitFor(() => userStatus.loaded(), { what: 'user-status policy loaded' });
  });

  after(async () => {
    await userStatus?.stop();
    for (const g of gateways ?? []) await g.onModuleDestroy();
    for (const c of conns) await c.close();
    await policy?.close();
    await nats?.dispose();
  });

  it('applies each change everywhere within 1 s, and falls back to config until a policy sets a field', async () => {
    assert.equal(userStatus.current().cacheExpirySeconds, 900);
    assert.equal(gateways[0].esignTimeoutMs(), 90_000);
    assert.equal(gateways[0].forUser('olga', []).requirePresence, false);

    const samples: number[] = [];
    let revision = 0;
    for (const [i, expiry] of [30, 60, 300, 30, 900].entries()) {
      const requirePresence = i % 2 === 0;
      const body = {
        name: 'Default',
        settings: {
          activeDirectory: { cacheExpirySeconds: expiry },
          tap: { requirePresence },
          esign: { ceremonyTimeoutSeconds: 60 + i },
        },
      };
      const began = performance.now();
      const res =
        i === 0
          ? await policy.api('POST', '/v1/policies', {
              body: { policyId: 'default', kind: 'default', ...body },
            })
          : await policy.api('PUT', '/v1/policies/default', {
              body,
              headers: { 'if-match': `"${revision}"` },
            });
      assert.ok(res.status === 200 || res.status === 201, JSON.stringify(res.body));
      revision = res.body.revision;
      await waitFor(
        () =>
          userStatus.current().cacheExpirySeconds === expiry &&
          gateways.every(
            (g) =>
              g.forUser('olga', []).requirePresence === requirePresence &&
              g.esignTimeoutMs() === (60 + i) * 1000,
          ),
        { what: `change ${i} applied`, timeoutMs: 5_000, intervalMs: 2 },
      );
      samples.push(performance.now() - began);
    }
    const worst = Math.max(...samples);
    process.stdout.write(
      `policy propagation (API write -> user-status + 2 gateway watchers), ms: ${samples.map((s) => s.toFixed(1)).join(', ')}\n`,
    );
    assert.ok(worst < 1000, `slowest change took ${worst.toFixed(0)} ms`);
  });
});
