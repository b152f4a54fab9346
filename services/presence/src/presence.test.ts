import type { INestApplication } from '@nestjs/common';
import { PresenceGet, presenceChangedSubject, type BandPresence } from '@tapgate/contracts';
import { RequestError } from '@tapgate/messaging';
import { startTelemetry } from '@tapgate/telemetry';
import { sleep, startNats, startRedis, waitFor, type TestServer } from '@tapgate/testing';
import { SoftwareBand } from '@tapgate/band';
import Redis from 'ioredis';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ManualClock } from './presence/clock';
import { PresenceService } from './presence/presence.service';
import { publishedKey, stateKey } from './presence/presence-store';
import { advert, batch, httpUrl, PresenceProbe, startReplica } from './testing/presence-harness';

/** Sweeps run every 25 ms in these tests; this is several sweeps of every replica. */
const SEVERAL_SWEEPS_MS = 250;

describe('presence service (two replicas, real NATS and Redis)', () => {
  let nats: TestServer;
  let redisServer: TestServer;
  let redis: Redis;
  let probe: PresenceProbe;
  const clock = new ManualClock();
  let replicas: INestApplication[] = [];

  const get = (i: number, bandId: string) => replicas[i].get(PresenceService).get(bandId);
  const bothAgree = async (bandId: string) => {
    const [a, b] = await Promise.all([get(0, bandId), get(1, bandId)]);
    assert.deepEqual(a, b, 'the two replicas answer the same');
    return a;
  };

  before(async () => {
    startTelemetry({ serviceName: 'presence-test' });
    [nats, redisServer] = await Promise.all([startNats({ jetstream: false }), startRedis()]);
    redis = new Redis(redisServer.url);
    probe = await PresenceProbe.start(nats.url);
    replicas = [
      await startReplica(nats.url, redisServer.url, clock, 'presence-a'),
      await startReplica(nats.url, redisServer.url, clock, 'presence-b'),
    ];
  });
  after(async () => {
    for (const app of replicas) await app.close();
    await probe.close();
    redis.disconnect();
    await Promise.all([nats.dispose(), redisServer.dispose()]);
  });

  it('publishes "found", then yes -> likely -> unlikely -> no as the clock moves, each exactly once', async () => {
    const band = SoftwareBand.generate('band-levels');
    band.clasp();
    band.authenticate();
    probe.send(batch('T1', [band.advert(-50, clock.now())], clock.now()));

    const found = await probe.nthChange('band-levels', 1);
    assert.equal(found.terminalId, 'T1');
    assert.equal(found.before, undefined);
    assert.equal(found.after.presence, 'yes');
    assert.equal(found.after.authenticated, true);
    assert.deepEqual(found.after.terminals, [{ terminalId: 'T1', rssi: -50 }]);
    assert.equal(found.after.lastSeen, new Date(clock.now()).toISOString());

    clock.advance(4_999);
    await sleep(SEVERAL_SWEEPS_MS);
    assert.equal(probe.changesFor('band-levels').length, 1, 'still yes before 5 s');

    const steps: Array<[number, BandPresence['presence'], boolean]> = [
      [1, 'likely', true],
      [10_000, 'unlikely', true],
      [45_000, 'no', false],
    ];
    let n = 1;
    for (const [advanceMs, level, authenticated] of steps) {
      clock.advance(advanceMs);
      const change = await probe.nthChange('band-levels', ++n);
      assert.equal(change.after.presence, level);
      assert.equal(change.before?.presence, n === 2 ? 'yes' : steps[n - 3][1]);
      assert.equal(change.after.authenticated, authenticated, `authenticated at ${level}`);
      assert.equal(change.at, new Date(clock.now()).toISOString());
      await sleep(SEVERAL_SWEEPS_MS);
      assert.equal(
        probe.changesFor('band-levels').length,
        n,
        `${level} published once by two sweeping replicas`,
      );
      const answer = await bothAgree('band-levels');
      assert.equal(answer.band?.presence, level);
    }
  });

  it('answers PresenceGet over NATS: known with the smoothed RSSI, or known:false', async () => {
    const t = clock.now();
    probe.send(
      batch('T2', [advert('band-ewma', -50, 'on_wrist', t), advert('band-ewma', -70, 'on_wrist', t)], t),
    );
    await probe.nthChange('band-ewma', 1);
    const answer = await probe.messaging.request(PresenceGet, { v: 1, bandId: 'band-ewma' });
    // EWMA, alpha 0.3: 0.3 * -70 + 0.7 * -50 = -56
    assert.deepEqual(answer, {
      v: 1,
      known: true,
      band: {
        bandId: 'band-ewma',
        presence: 'yes',
        authenticated: false,
        terminals: [{ terminalId: 'T2', rssi: -56 }],
        lastSeen: new Date(t).toISOString(),
      },
    });
    assert.deepEqual(await probe.messaging.request(PresenceGet, { v: 1, bandId: 'band-never-seen' }), {
      v: 1,
      known: false,
    });
    assert.deepEqual(await bothAgree('band-never-seen'), { v: 1, known: false });
  });

  it('a removed band (unclasped advert) is not authenticated at once; a late, older advert cannot undo that', async () => {
    const t0 = clock.now();
    probe.send(batch('T3', [advert('band-removal', -45, 'authenticated', t0)], t0));
    assert.equal((await probe.nthChange('band-removal', 1)).after.authenticated, true);

    clock.advance(200);
    probe.send(batch('T3', [advert('band-removal', -45, 'unclasped', clock.now())], clock.now()));
    const removed = await probe.nthChange('band-removal', 2);
    assert.equal(removed.before?.authenticated, true);
    assert.equal(removed.after.authenticated, false);
    assert.equal(removed.after.presence, 'yes');
    assert.equal((await bothAgree('band-removal')).band?.authenticated, false);

    // Reordered delivery: an advert seen before the removal arrives after it (another terminal).
    clock.advance(100);
    probe.send(batch('T4', [advert('band-removal', -80, 'authenticated', t0 + 100)], clock.now()));
    await sleep(SEVERAL_SWEEPS_MS);
    assert.equal((await bothAgree('band-removal')).band?.authenticated, false);
    assert.equal(probe.changesFor('band-removal').length, 2);

    // Clasped again and the fingerprint verified: a newer advert authenticates.
    clock.advance(3000);
    probe.send(batch('T3', [advert('band-removal', -45, 'authenticated', clock.now())], clock.now()));
    assert.equal((await probe.nthChange('band-removal', 3)).after.authenticated, true);
  });

  it('the strongest terminal changes only past the margin, and both terminals hear about it', async () => {
    const t = () => clock.now();
    probe.send(batch('T5', [advert('band-walk', -60, 'authenticated', t())], t()));
    await probe.nthChange('band-walk', 1);
    probe.send(batch('T6', [advert('band-walk', -58, 'authenticated', t())], t()));
    await sleep(SEVERAL_SWEEPS_MS);
    assert.equal(probe.changesFor('band-walk').length, 1, '2 dB stronger is within the 3 dB margin');
    const sticky = await bothAgree('band-walk');
    assert.deepEqual(
      sticky.band?.terminals.map((x) => x.terminalId),
      ['T5', 'T6'],
    );

    clock.advance(100);
    probe.send(batch('T6', [advert('band-walk', -40, 'authenticated', t())], t()));
    const moved = await waitFor(() =>
      probe.changesFor('band-walk').length >= 3 ? probe.changesFor('band-walk') : undefined,
    );
    const [toNew, toOld] = [
      moved.find((c) => c.terminalId === 'T6'),
      moved.slice(1).find((c) => c.terminalId === 'T5'),
    ];
    assert.ok(toNew && toOld, 'published on the new and the old terminal');
    assert.deepEqual(toNew, { ...toOld, terminalId: 'T6' });
    assert.equal(toNew.before?.terminals[0]?.terminalId, 'T5');
    assert.equal(toNew.after.terminals[0]?.terminalId, 'T6');
    await sleep(SEVERAL_SWEEPS_MS);
    assert.equal(probe.changesFor('band-walk').length, 3);
  });

  it('a terminal that stopped hearing the band for terminal_window_ms drops out of its list', async () => {
    const hearAt = async (terminalId: string, rssi: number) => {
      const t = clock.now();
      probe.send(batch(terminalId, [advert('band-drift', rssi, 'on_wrist', t)], t));
      // Applied before the clock moves on: the replicas stamp adverts with their clock.
      await waitFor(async () => {
        const band = (await bothAgree('band-drift')).band;
        return (
          band?.lastSeen === new Date(t).toISOString() &&
          band.terminals.some((x) => x.terminalId === terminalId)
        );
      });
    };
    await hearAt('T9', -50);
    await hearAt('T10', -75);
    assert.equal((await bothAgree('band-drift')).band?.terminals.length, 2);
    clock.advance(4000);
    await hearAt('T10', -75);
    clock.advance(4000);
    await hearAt('T10', -75);
    assert.equal(
      probe.changesFor('band-drift').length,
      1,
      'T9 heard it 8 s before the last advert: still listed',
    );
    clock.advance(3000);
    await hearAt('T10', -74);
    const moved = await probe.nthChange('band-drift', 2);
    assert.equal(moved.terminalId, 'T10');
    // EWMA: 0.3 * -74 + 0.7 * -75
    assert.deepEqual(moved.after.terminals, [{ terminalId: 'T10', rssi: -74.7 }]);
    assert.deepEqual(
      moved.before?.terminals.map((x) => x.terminalId),
      ['T9', 'T10'],
    );
    assert.deepEqual(
      (await redis.hkeys(stateKey('band-drift'))).filter((f) => f.includes('T9')),
      [],
    );
  });

  it('keeps state in Redis with a TTL (state and published snapshot)', async () => {
    const stateTtl = await redis.pttl(stateKey('band-levels'));
    const pubTtl = await redis.pttl(publishedKey('band-levels'));
    assert.ok(stateTtl > 0 && stateTtl <= 120_000, `state TTL ${stateTtl}`);
    assert.ok(pubTtl > 0 && pubTtl <= 120_000, `snapshot TTL ${pubTtl}`);
  });

  it('drops adverts that fail the schema (bad band id, RSSI out of range) without touching state', async () => {
    const nc = await probe.messaging.connection();
    const t = new Date(clock.now()).toISOString();
    const bad = [
      {
        v: 1,
        terminalId: 'T7',
        receivedAt: t,
        adverts: [{ bandId: 'bad id!', rssi: -50, state: 'authenticated', seenAt: t }],
      },
      {
        v: 1,
        terminalId: 'T7',
        receivedAt: t,
        adverts: [{ bandId: 'band-x', rssi: 99, state: 'authenticated', seenAt: t }],
      },
      {
        v: 1,
        terminalId: 'T7',
        receivedAt: t,
        adverts: [{ bandId: 'band-x', rssi: -50, state: 'flying', seenAt: t }],
      },
      {
        v: 1,
        terminalId: 'T 7',
        receivedAt: t,
        adverts: [{ bandId: 'band-x', rssi: -50, state: 'on_wrist', seenAt: t }],
      },
    ];
    for (const b of bad) nc.publish('tapgate.v1.presence.adverts', JSON.stringify(b));
    nc.publish('tapgate.v1.presence.adverts', 'not json');
    // A valid batch sent after them proves the replicas are alive and have processed the bad ones.
    probe.send(batch('T7', [advert('band-after-bad', -50, 'on_wrist', clock.now())], clock.now()));
    await probe.nthChange('band-after-bad', 1);
    assert.deepEqual(await redis.keys('tapgate:presence:{band-x}:*'), []);
    assert.deepEqual(await redis.keys('tapgate:presence:{bad id!}:*'), []);
    assert.equal((await bothAgree('band-x')).known, false);
    await assert.rejects(
      probe.messaging.request(PresenceGet, { v: 1, bandId: 'bad id!' }),
      (e: RequestError) => e.kind === 'remote_error' && /invalid_request/.test(e.message),
    );
  });

  it('a replica restart loses nothing: a new replica answers and carries on the transitions', async () => {
    const t = clock.now();
    probe.send(batch('T8', [advert('band-restart', -52, 'authenticated', t)], t));
    await probe.nthChange('band-restart', 1);
    const before = await bothAgree('band-restart');

    for (const app of replicas) await app.close();
    replicas = [
      await startReplica(nats.url, redisServer.url, clock, 'presence-c'),
      await startReplica(nats.url, redisServer.url, clock, 'presence-d'),
    ];
    assert.deepEqual(await bothAgree('band-restart'), before);
    clock.advance(6000);
    const likely = await probe.nthChange('band-restart', 2);
    assert.equal(likely.after.presence, 'likely');
    assert.equal(likely.after.authenticated, true);
    await sleep(SEVERAL_SWEEPS_MS);
    assert.equal(probe.changesFor('band-restart').length, 2);
  });

  it("published every change on its terminal's subject", () => {
    assert.ok(probe.changes.length > 10);
    probe.changes.forEach((c, i) => assert.equal(probe.subjects[i], presenceChangedSubject(c.terminalId)));
  });

  it('serves /healthz, /readyz and /metrics', async () => {
    const app = replicas[0];
    assert.equal((await fetch(httpUrl(app, '/healthz'))).status, 200);
    const ready = await fetch(httpUrl(app, '/readyz'));
    assert.equal(ready.status, 200);
    assert.deepEqual(await ready.json(), { status: 'ready', checks: { nats: true, redis: true } });
    const metrics = await (await fetch(httpUrl(app, '/metrics'))).text();
    assert.match(metrics, /tapgate_presence_adverts/);
  });
});
