// Status-request latency: cache hits and misses (against Samba AD over LDAPS) next to a bare NATS
// request/reply measured in the same run. `node services/user-status/dist/bench.js [iterations]`.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { startNats, startRedis, startSambaAd, type SambaAd } from '@tapgate/testing';
import type { UserStatusApp } from './bootstrap';
import { ask, bootWithEnv, sam, testClient } from './test-support';

export interface Percentiles {
  p50: number;
  p99: number;
}

export interface BenchUserStatusResult {
  hit: Percentiles;
  miss: Percentiles;
  floor: Percentiles;
}

export interface BenchUserStatusOptions {
  /** Timed requests per kind (default 500). */
  iterations?: number;
  /** Untimed requests per kind first (default 50). */
  warmup?: number;
  /** A running Samba to use; default: start one (and dispose of it afterwards). */
  samba?: SambaAd;
  /** Called with each figure as it is measured. */
  log?: (line: string) => void;
}

/** Milliseconds, two decimals; nearest-rank percentiles. */
export function percentiles(samples: number[]): Percentiles {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)] ?? NaN;
  const round = (v: number) => Math.round(v * 100) / 100;
  return { p50: round(at(0.5)), p99: round(at(0.99)) };
}

async function measure(n: number, warmup: number, once: () => Promise<void>, before?: () => Promise<void>) {
  const samples: number[] = [];
  for (let i = 0; i < warmup + n; i++) {
    await before?.();
    const t = performance.now();
    await once();
    if (i >= warmup) samples.push(performance.now() - t);
  }
  return percentiles(samples);
}

export async function benchUserStatus(opts: BenchUserStatusOptions = {}): Promise<BenchUserStatusResult> {
  const n = opts.iterations ?? 500;
  const warmup = opts.warmup ?? 50;
  const log = opts.log ?? (() => undefined);
  const owned: Array<{ dispose(): Promise<void> }> = [];
  let app: UserStatusApp | undefined;
  const dir = mkdtempSync(join(tmpdir(), 'user-status-bench-'));
  try {
    const [ad, nats, redis] = await Promise.all([
      opts.samba ? Promise.resolve(opts.samba) : startSambaAd(),
      startNats({ jetstream: false }),
      startRedis(),
    ]);
    if (!opts.samba) owned.push(ad);
    owned.push(nats, redis);
    writeFileSync(join(dir, 'bind.pw'), ad.serviceAccount.password);
    app = await bootWithEnv({
      TAPGATE_NATS_SERVERS: nats.url,
      TAPGATE_REDIS_URL: redis.url,
      TAPGATE_LDAP_URL: ad.ldapsUrl,
      TAPGATE_LDAP_BASE_DN: ad.baseDn,
      TAPGATE_LDAP_BIND_DN: ad.serviceAccount.userPrincipalName,
      TAPGATE_LDAP_BIND_PASSWORD_FILE: join(dir, 'bind.pw'),
      TAPGATE_LDAP_CA_FILE: ad.caFile,
      TAPGATE_AGENT_LOG_LEVEL: 'error',
    });
    const service = app.service;
    const client = await testClient(nats.url);
    const nc = await client.connection();
    // The floor: a bare request/reply between two connections, like client -> user-status.
    const echo = await testClient(nats.url);
    const echoNc = await echo.connection();
    echoNc.subscribe('bench.userstatus.floor', { callback: (_e, m) => m.respond(m.data) });
    await echoNc.flush();
    const payload = new TextEncoder().encode(JSON.stringify({ v: 1, user: sam('alice') }));
    try {
      const floor = await measure(n, warmup, async () => {
        await nc.request('bench.userstatus.floor', payload, { timeout: 2000 });
      });
      log(`floor (bare NATS request/reply): p50 ${floor.p50} ms, p99 ${floor.p99} ms`);
      const expectStatus = async (source: 'cache' | 'directory') => {
        const a = await ask(client, sam('alice'));
        if (a.status !== 'active' || a.source !== source) {
          throw new Error(`bench: unexpected answer ${JSON.stringify(a)}`);
        }
      };
      await expectStatus('directory');
      const hit = await measure(n, warmup, () => expectStatus('cache'));
      log(`hit: p50 ${hit.p50} ms, p99 ${hit.p99} ms`);
      const miss = await measure(
        n,
        warmup,
        () => expectStatus('directory'),
        async () => void (await service.invalidate(sam('alice'))),
      );
      log(`miss (Samba AD over LDAPS): p50 ${miss.p50} ms, p99 ${miss.p99} ms`);
      return { hit, miss, floor };
    } finally {
      await Promise.all([client.close(), echo.close()]);
    }
  } finally {
    await app?.close();
    for (const s of owned.reverse()) await s.dispose();
    rmSync(dir, { recursive: true, force: true });
  }
}

if (require.main === module) {
  const iterations = Number(process.argv[2] ?? 500);
  benchUserStatus({ iterations, log: (l) => console.log(l) }).then(
    (r) => console.log(JSON.stringify(r)),
    (e: unknown) => {
      console.error(e);
      process.exit(1);
    },
  );
}
