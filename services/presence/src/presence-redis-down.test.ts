import type { INestApplication } from '@nestjs/common';
import { PresenceGet } from '@tapgate/contracts';
import { RequestError } from '@tapgate/messaging';
import { startTelemetry } from '@tapgate/telemetry';
import { startNats, startRedis, waitFor, type TestServer } from '@tapgate/testing';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ManualClock } from './presence/clock';
import { advert, batch, httpUrl, PresenceProbe, startReplica } from './testing/presence-harness';

describe('presence with Redis down', () => {
  let nats: TestServer;
  let redisServer: TestServer;
  let probe: PresenceProbe;
  let app: INestApplication;
  const clock = new ManualClock();

  before(async () => {
    startTelemetry({ serviceName: 'presence-test' });
    [nats, redisServer] = await Promise.all([startNats({ jetstream: false }), startRedis()]);
    probe = await PresenceProbe.start(nats.url);
    app = await startReplica(nats.url, redisServer.url, clock, 'presence-down');
  });
  after(async () => {
    await app.close();
    await probe.close();
    await Promise.all([nats.dispose(), redisServer.dispose()]);
  });

  it('answers PresenceGet with an error (never a stale "yes"), reports not ready, and recovers', async () => {
    probe.send(batch('T1', [advert('band-1', -40, 'authenticated', clock.now())], clock.now()));
    await probe.nthChange('band-1', 1);
    assert.equal(
      (await probe.messaging.request(PresenceGet, { v: 1, bandId: 'band-1' })).band?.authenticated,
      true,
    );

    await redisServer.stop();
    const started = Date.now();
    await assert.rejects(
      probe.messaging.request(PresenceGet, { v: 1, bandId: 'band-1' }),
      (e: RequestError) => e.kind === 'remote_error' && /unavailable/.test(e.message),
    );
    assert.ok(Date.now() - started < 1500, 'the error comes before the requester gives up');
    await waitFor(async () => (await fetch(httpUrl(app, '/readyz'))).status === 503, { what: 'readyz 503' });
    // Adverts and sweeps while Redis is down fail without taking the process down.
    probe.send(batch('T1', [advert('band-1', -40, 'authenticated', clock.now())], clock.now()));
    clock.advance(6000);

    await redisServer.start();
    await waitFor(async () => (await fetch(httpUrl(app, '/readyz'))).status === 200, {
      what: 'readyz 200',
      timeoutMs: 10_000,
    });
    // This Redis keeps nothing across restarts (tests run it without persistence): the band is unknown.
    assert.deepEqual(await probe.messaging.request(PresenceGet, { v: 1, bandId: 'band-1' }), {
      v: 1,
      known: false,
    });
    probe.send(batch('T1', [advert('band-1', -40, 'authenticated', clock.now())], clock.now()));
    const found = await probe.nthChange('band-1', 2);
    assert.equal(found.before, undefined);
    assert.equal(found.after.presence, 'yes');
  });
});
