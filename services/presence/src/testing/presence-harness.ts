import type { INestApplication } from '@nestjs/common';
import type { RedisSettings } from '@tapgate/config';
import {
  PresenceChanged,
  type Advert,
  type AdvertBatch,
  type PresenceChange,
  PresenceAdverts,
} from '@tapgate/contracts';
import { Messaging } from '@tapgate/messaging';
import { waitFor } from '@tapgate/testing';
import type { AddressInfo } from 'node:net';
import { createPresenceApp } from '../bootstrap';
import type { Clock } from '../presence/clock';
import type { PresenceSettings } from '../presence/presence-settings';

/** Test helpers: start replicas in-process against real servers, send adverts, collect changes. */
export async function startReplica(
  natsUrl: string,
  /** A plain redis:// URL, or full settings (Sentinels). */
  redis: string | RedisSettings,
  clock: Clock,
  name: string,
  settings: Partial<PresenceSettings> = {},
): Promise<INestApplication> {
  const app = await createPresenceApp({
    nats: { servers: [natsUrl], name, requestTimeoutMs: 1000 },
    redis: typeof redis === 'string' ? { url: redis } : redis,
    http: { host: '127.0.0.1', port: 0 },
    settings: { sweepIntervalMs: 25, ...settings },
    clock,
  });
  // Subscriptions are registered once connected; the flush makes sure the server has them.
  const nc = await app.get(Messaging).connection();
  await nc.flush();
  await waitFor(async () => (await fetch(httpUrl(app, '/readyz'))).ok, { what: `${name} ready` });
  return app;
}

export function httpUrl(app: INestApplication, path: string): string {
  const { port } = (app.getHttpServer() as { address(): AddressInfo }).address();
  return `http://127.0.0.1:${port}${path}`;
}

export function advert(bandId: string, rssi: number, state: Advert['state'], atMs: number): Advert {
  return { bandId, rssi, state, seenAt: new Date(atMs).toISOString() };
}

export function batch(terminalId: string, adverts: Advert[], atMs: number): AdvertBatch {
  return { v: 1, terminalId, adverts, receivedAt: new Date(atMs).toISOString() };
}

/** A NATS client that sends adverts and records every PresenceChanged message. */
export class PresenceProbe {
  readonly changes: PresenceChange[] = [];
  /** The subject each change arrived on, by index in `changes`. */
  readonly subjects: string[] = [];
  readonly messaging: Messaging;

  private constructor(natsUrl: string) {
    this.messaging = new Messaging({ servers: [natsUrl], name: 'presence-probe', requestTimeoutMs: 1500 });
  }

  static async start(natsUrl: string): Promise<PresenceProbe> {
    const probe = new PresenceProbe(natsUrl);
    probe.messaging.subscribe(PresenceChanged, (c, ctx) => {
      probe.changes.push(c);
      probe.subjects.push(ctx.subject);
    });
    const nc = await probe.messaging.connection();
    await nc.flush();
    return probe;
  }

  send(b: AdvertBatch): void {
    this.messaging.publish(PresenceAdverts, b);
  }

  changesFor(bandId: string): PresenceChange[] {
    return this.changes.filter((c) => c.after.bandId === bandId);
  }

  /** Waits for the n-th change of a band (1-based) and returns it. */
  async nthChange(bandId: string, n: number, what = `change ${n} of ${bandId}`): Promise<PresenceChange> {
    return waitFor(() => this.changesFor(bandId)[n - 1], { timeoutMs: 5000, what });
  }

  close(): Promise<void> {
    return this.messaging.close();
  }
}
