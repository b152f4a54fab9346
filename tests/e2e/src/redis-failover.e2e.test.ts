import { Platform, SENTINEL_FAILOVER_BOUND_MS, sleep, waitFor } from '@tapgate/testing';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { connectTerminal, enrollBand, Nea, tap } from './harness';

describe('end to end with Redis behind Sentinels: taps across a failover', () => {
  let platform: Platform;
  const dir = mkdtempSync(join(tmpdir(), 'tapgate-e2e-redis-'));
  before(async () => {
    platform = await Platform.start({
      dir,
      logLevel: 'warn',
      redisSentinel: true,
      users: [{ sAMAccountName: 'alice', displayName: 'Alice Able', state: 'active' }],
    });
  });
  after(async () => {
    await platform?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('refuses taps (presence_unknown) while the primary is gone, then grants again without new adverts', async () => {
    const ep = await connectTerminal(platform, 'E2E-RF1');
    const nea = await Nea.open(platform, 'E2E-RF1');
    const alice = await enrollBand(platform, 'alice');
    ep.adverts([alice.advert(-60)]);
    await waitFor(async () => (await tap(ep, alice)).decision.outcome === 'granted', { what: 'granted' });
    await platform.redisSentinels.waitForReplication();

    const killed = await platform.redisSentinels.killPrimary();
    const t0 = Date.now();
    const outcomes = new Map<string, number>();
    let grantedMs: number | undefined;
    while (Date.now() - t0 < SENTINEL_FAILOVER_BOUND_MS) {
      const d = (await tap(ep, alice)).decision;
      const key = `${d.outcome}${d.reason ? `:${d.reason}` : ''}`;
      outcomes.set(key, (outcomes.get(key) ?? 0) + 1);
      if (d.outcome === 'granted' && outcomes.size > 1) {
        grantedMs = Date.now() - t0;
        break;
      }
      await sleep(100);
    }
    console.log(`e2e: primary SIGKILL -> tap granted again after ${grantedMs} ms`, [...outcomes]);
    if (grantedMs === undefined) {
      const sentinels = await platform.redisSentinels.describe();
      const presence = platform.process('presence').child;
      const log = readFileSync(join(dir, 'logs', 'presence.log'), 'utf8')
        .split('\n')
        .slice(-30)
        .join('\n');
      console.log(
        `presence (exit ${presence.exitCode ?? 'none'}, ${presence.signalCode ?? ''}), last log lines:\n${log}`,
      );
      assert.fail(
        `not granted again within ${SENTINEL_FAILOVER_BOUND_MS} ms (${JSON.stringify([...outcomes])}); killed :${killed.port}; ${sentinels}`,
      );
    }
    // Between the kill and the new primary, taps were refused because presence could not know.
    for (const key of outcomes.keys()) assert.ok(['granted', 'refused:presence_unknown'].includes(key), key);
    nea.close();
    await ep.stop();
  });
});
