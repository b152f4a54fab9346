import type { RedisSettings } from '@tapgate/config';
import { RedisSentinelSet, sleep } from '@tapgate/testing';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Redis } from 'ioredis';
import { createRedisClient, describeRedisTarget, redisClientOptions, type RedisBehaviour } from './index';

// Presence's behaviour: no queue, so every command during the outage fails at once.
const FAIL_FAST: RedisBehaviour = {
  enableOfflineQueue: false,
  maxRetriesPerRequest: 1,
  commandTimeout: 1000,
  connectTimeout: 2000,
  retryStrategy: (attempt) => Math.min(100 * attempt, 1000),
};

/** Reads one key straight from a data server (no Sentinel), waiting for the connection. */
async function readDirect(server: { host: string; port: number }, key: string, db = 0, password?: string) {
  const direct = createRedisClient({ url: `redis://${server.host}:${server.port}/${db}`, password }, {});
  try {
    return await direct.get(key);
  } finally {
    direct.disconnect();
  }
}

/** Repeats `op` every 50 ms until it resolves; returns the ms from `since` to that moment. */
/** A fail-fast client of a Sentinel set (no password), errors ignored: the test reads its results. */
function failFastClientOf(set: RedisSentinelSet): Redis {
  const c = createRedisClient(
    { url: 'redis://x:1', sentinel: { sentinels: set.sentinels, masterName: set.masterName } },
    FAIL_FAST,
  );
  c.on('error', () => undefined);
  return c;
}

async function firstSuccess(op: () => Promise<unknown>, since: number, boundMs: number): Promise<number> {
  let lastError: unknown;
  while (Date.now() - since < boundMs) {
    try {
      await op();
      return Date.now() - since;
    } catch (e) {
      lastError = e;
    }
    await sleep(50);
  }
  throw new Error(`no success within ${boundMs} ms: ${String(lastError)}`);
}

describe('redisClientOptions', () => {
  it('a plain URL gets only the behaviour and the password; no Sentinel options', () => {
    const o = redisClientOptions({ url: 'redis://r:6379', password: 'p' }, FAIL_FAST);
    assert.equal(o.password, 'p');
    assert.equal(o.sentinels, undefined);
    assert.equal(o.reconnectOnError, undefined);
    assert.equal(o.enableOfflineQueue, false);
  });

  it('Sentinels: master role, failover detection, READONLY reconnects; rediss is TLS to Sentinels too', () => {
    const settings: RedisSettings = {
      url: 'rediss://ignored:6379/2',
      sentinel: { sentinels: [{ host: '10.0.0.5', port: 26379 }], masterName: 'plant', password: 'sp' },
    };
    const o = redisClientOptions(settings, FAIL_FAST);
    assert.deepEqual(o.sentinels, [{ host: '10.0.0.5', port: 26379 }]);
    assert.equal(o.name, 'plant');
    assert.equal(o.role, 'master');
    assert.equal(o.sentinelPassword, 'sp');
    assert.equal(o.failoverDetector, true);
    assert.equal(o.enableTLSForSentinelMode, true);
    assert.deepEqual(o.sentinelTLS, {});
    const reconnect = o.reconnectOnError!;
    assert.equal(reconnect(new Error("READONLY You can't write against a read only replica.")), true);
    assert.equal(reconnect(new Error('ERR wrong number of arguments')), false);
    assert.equal(describeRedisTarget(settings), 'Sentinel master "plant" via 10.0.0.5:26379');
    assert.equal(describeRedisTarget({ url: 'redis://u:secret@r:6379/1' }), 'redis://r:6379/1');
  });
});

describe('createRedisClient against a real primary, replica and three Sentinels', () => {
  let set: RedisSentinelSet;
  let client: Redis;
  let settings: RedisSettings;

  before(async () => {
    set = await RedisSentinelSet.start({ password: 'data-pw', sentinelPassword: 'sentinel-pw' });
    settings = {
      // The host in the URL is not used with Sentinels; the database number is.
      url: 'redis://not-a-host.invalid:1/3',
      password: 'data-pw',
      sentinel: { sentinels: set.sentinels, masterName: set.masterName, password: 'sentinel-pw' },
    };
    client = createRedisClient(settings, FAIL_FAST);
    client.on('error', () => undefined);
    await firstSuccess(() => client.ping(), Date.now(), 10_000);
  });
  after(async () => {
    client?.disconnect();
    await set?.stop();
  });

  it('writes to the primary, in the URL database', async () => {
    await client.set('k', 'before-failover');
    assert.equal(await readDirect(set.primary(), 'k', 3, 'data-pw'), 'before-failover');
  });

  it('after SIGKILL of the primary, reads a replicated write and writes again on the new primary', async () => {
    await client.set('replicated', 'yes');
    await set.waitForReplication();
    const killed = await set.killPrimary();
    const t0 = Date.now();
    const readMs = await firstSuccess(
      async () => assert.equal(await client.get('replicated'), 'yes'),
      t0,
      20_000,
    );
    const newPort = await set.waitForFailover();
    assert.notEqual(newPort, killed.port);
    const writeMs = await firstSuccess(() => client.set('after', '1'), t0, 20_000);
    console.log(`redis client: primary SIGKILL -> first read ${readMs} ms, first write ${writeMs} ms`);
    assert.ok(writeMs < 15_000, `writes resumed within 15 s (took ${writeMs} ms)`);
  });

  it('keeps connecting when the +switch-master notice lands while it asks a Sentinel (one frozen), instead of ending for good', async () => {
    // The frozen first Sentinel makes every attempt wait up to connectTimeout for it, so the notice of
    // the other two lands during an attempt: ioredis then ended the client (status "end", no retry).
    const live = await RedisSentinelSet.start();
    const c = failFastClientOf(live);
    const ended: number[] = [];
    c.on('end', () => ended.push(Date.now()));
    try {
      await firstSuccess(() => c.set('k', 'v'), Date.now(), 10_000);
      await live.waitForReplication();
      await live.killPrimary();
      const t0 = Date.now();
      live.freezeSentinel(0, true);
      const ms = await firstSuccess(async () => assert.equal(await c.get('k'), 'v'), t0, 60_000);
      console.log(
        `redis client: primary SIGKILL with a Sentinel frozen -> read again after ${ms} ms (client ended ${ended.length} time(s) on the way)`,
      );
      assert.equal(c.status, 'ready');
    } finally {
      c.disconnect();
      await live.stop();
    }
  });

  it('a failover that leaves the old primary running (SENTINEL FAILOVER) moves writes too', async () => {
    // Needs a replica again: the killed server is gone, so bring a fresh set for this case.
    const live = await RedisSentinelSet.start();
    const c = failFastClientOf(live);
    try {
      await firstSuccess(() => c.set('k', '0'), Date.now(), 10_000);
      const oldPrimary = live.primary();
      await live.waitForReplication();
      await live.manualFailover();
      const t0 = Date.now();
      await live.waitForFailover();
      // The demoted primary refuses writes (READONLY), so a success means the client found the new one.
      const ms = await firstSuccess(() => c.set('k', '1'), t0, 15_000);
      assert.notEqual(live.primary().port, oldPrimary.port);
      assert.equal(await readDirect(live.primary(), 'k'), '1');
      console.log(
        `redis client: SENTINEL FAILOVER -> first write on the new primary ${ms} ms after the switch`,
      );
    } finally {
      c.disconnect();
      await live.stop();
    }
  });
});
