/**
 * Where the time goes when the gateway restarts under connected endpoints (the bench's "restarting the
 * gateway" figure, on its own and with a breakdown): the old process's stop, the new one's start until
 * its agent port accepts TCP and until /readyz answers, and for every endpoint (AgentClient, its real
 * backoff) how many attempts it needed, how they failed, and the delay before its last attempt.
 *
 *   node tools/bench/dist/restart.js --endpoints 2000
 *
 * Terminals are admitted without credentials (`require_endpoint_credentials = false`), so no policy API
 * set-up is needed; the hello then skips one SHA-256, nothing else changes.
 */
import { AgentClient, Backoff, type AttemptFailure } from '@tapgate/endpoint-node';
import { Platform } from '@tapgate/testing';
import { setLogLevel } from '@tapgate/telemetry';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { pool } from './stats';

const { values } = parseArgs({ options: { endpoints: { type: 'string', default: '2000' } } });
const N = Number(values.endpoints);
if (!Number.isInteger(N) || N <= 0) {
  console.error('restart: --endpoints must be a positive whole number');
  process.exit(2);
}
setLogLevel('error');
const say = (s: string) => console.log(s);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The endpoint's own backoff, recording each delay it chose and why. */
class RecordingBackoff extends Backoff {
  readonly delays: Array<{ at: number; ms: number; failure: AttemptFailure }> = [];
  override next(failure: AttemptFailure = 'other'): number {
    const ms = super.next(failure);
    this.delays.push({ at: performance.now(), ms, failure });
    return ms;
  }
}

interface Probe {
  client: AgentClient;
  backoff: RecordingBackoff;
  closes: Array<{ at: number; code: number }>;
  backAt?: number;
}

function acceptsTcp(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

/** Polls `check` every 10 ms until it holds (or `stop()` says so), and resolves with when it first held. */
async function firstTime(check: () => Promise<boolean>, stop: () => boolean): Promise<number | undefined> {
  while (!stop()) {
    if (await check()) return performance.now();
    await sleep(10);
  }
  return undefined;
}

const percentile = (xs: number[], p: number) =>
  [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(p * xs.length))];
const seconds = (ms: number | undefined) => (ms === undefined ? 'n/a' : `${(ms / 1000).toFixed(2)} s`);
const countBy = <T>(xs: T[], key: (x: T) => string | number) => {
  const out: Record<string, number> = {};
  for (const x of xs) out[key(x)] = (out[key(x)] ?? 0) + 1;
  return out;
};

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'tapgate-restart-'));
  const platform = await Platform.start({
    dir,
    users: [{ sAMAccountName: 'u1', displayName: 'User', state: 'active' }],
    logLevel: 'warn',
    extraToml: '\n[gateway]\nrequire_endpoint_credentials = false\n',
  });
  try {
    const url = `ws://127.0.0.1:${platform.ports.agent}/socket/websocket`;
    const probes: Probe[] = Array.from({ length: N }, (_, i) => {
      const backoff = new RecordingBackoff();
      const client = new AgentClient({ url, terminalId: `R-${String(i).padStart(5, '0')}`, backoff });
      const p: Probe = { client, backoff, closes: [] };
      client.on('disconnected', (code: number) => p.closes.push({ at: performance.now(), code }));
      client.on('connected', () => (p.backAt = performance.now()));
      return p;
    });
    await pool(probes, 100, async (p) => {
      p.client.start();
      await new Promise((r) => p.client.once('connected', r));
    });
    say(`${N} endpoints connected; restarting the gateway ...`);
    await sleep(2000);
    for (const p of probes) {
      p.closes.length = 0;
      p.backoff.delays.length = 0;
      p.backAt = undefined;
    }
    const t0 = performance.now();
    let stoppedAt: number | undefined;
    platform.process('ws-gateway').child.once('exit', () => (stoppedAt = performance.now()));
    let done = false;
    const listening = firstTime(
      async () => stoppedAt !== undefined && (await acceptsTcp(platform.ports.agent)),
      () => done,
    );
    const readyz = `http://127.0.0.1:${platform.ports.gatewayHttp}/readyz`;
    const ready = firstTime(
      async () =>
        stoppedAt !== undefined &&
        (await fetch(readyz).then(
          (r) => r.ok,
          () => false,
        )),
      () => done,
    );
    await platform.restart('ws-gateway');
    while (!probes.every((p) => p.backAt !== undefined && p.client.connected)) await sleep(20);
    const allBackAt = performance.now();
    done = true;
    const [listeningAt, readyAt] = await Promise.all([listening, ready]);
    const rel = (t: number | undefined) => seconds(t === undefined ? undefined : t - t0);
    say(
      `old gateway exited ${rel(stoppedAt)}; new one accepts TCP ${rel(listeningAt)}, /readyz 200 ${rel(readyAt)}; all ${N} back ${rel(allBackAt)} after the restart began`,
    );
    const back = probes.map((p) => p.backAt! - t0);
    say(
      `endpoints back: p50 ${seconds(percentile(back, 0.5))}, p90 ${seconds(percentile(back, 0.9))}, p99 ${seconds(percentile(back, 0.99))}, max ${seconds(Math.max(...back))}`,
    );
    say(
      `closes per endpoint until back (the gateway's close, then each failed attempt): ${JSON.stringify(countBy(probes, (p) => p.closes.length))}`,
    );
    say(
      `close codes: ${JSON.stringify(
        countBy(
          probes.flatMap((p) => p.closes),
          (c) => c.code,
        ),
      )}`,
    );
    const delays = probes.flatMap((p) => p.backoff.delays);
    say(`backoff delays by failure: ${JSON.stringify(countBy(delays, (d) => d.failure))}`);
    const last = probes.map((p) => p.backoff.delays.at(-1)?.ms ?? 0);
    say(
      `delay before the last attempt: p50 ${percentile(last, 0.5)} ms, p90 ${percentile(last, 0.9)} ms, max ${Math.max(...last)} ms`,
    );
    say(
      `endpoints back per 250 ms since the restart began: ${JSON.stringify(countBy(back, (b) => Math.floor(b / 250) * 250))}`,
    );
    await Promise.all(probes.map((p) => p.client.stop()));
  } finally {
    await platform.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    console.error(e);
    process.exit(1);
  },
);
