import { SoftwareBand, benchVerify, exportBandPublicKeyJwk } from '@tapgate/band';
import { decodeServerFrame, encodeClientFrame } from '@tapgate/contracts';
import { AgentClient } from '@tapgate/endpoint-node';
import { benchUserStatus } from '@tapgate/user-status';
import { Platform, freePort, waitFor, type DemoUser } from '@tapgate/testing';
import { setLogLevel } from '@tapgate/telemetry';
import { fork, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { connect } from 'nats';
import WebSocket from 'ws';
import { atRate, fmt, pool, summarize, type Summary } from './stats';

const { values } = parseArgs({
  options: {
    endpoints: { type: 'string', default: process.env.BENCH_ENDPOINTS ?? '2000' },
    rate: { type: 'string', default: process.env.BENCH_RATE ?? '500' },
    duration: { type: 'string', default: process.env.BENCH_DURATION ?? '20' },
    out: { type: 'string', default: process.env.BENCH_OUT ?? 'bench-results' },
  },
});
const N = Number(values.endpoints);
const RATE = Number(values.rate);
const DURATION_MS = Number(values.duration) * 1000;
const say = (s: string) => console.log(s);
// The load generator's own clients log every reconnect; only errors matter here.
setLogLevel('error');

interface Pair {
  terminalId: string;
  band: SoftwareBand;
  endpoint: AgentClient;
  nea?: WebSocket;
  /** performance.now() when the current tap was sent; the NEA receipt closes it. */
  sentAt?: number;
}

/** Set-up calls may meet a busy machine (a 503 from a timed-out user-status check): retry a few times. */
async function retry<T>(fn: () => Promise<T>, attempts = 5): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await fn();
    } catch (e) {
      if (i >= attempts || !/ 503 /.test((e as Error).message)) throw e;
      await new Promise((r) => setTimeout(r, 200 * i));
    }
  }
}

function openWs(url: string, onMessage: (text: string) => void): Promise<WebSocket> {
  return new Promise((resolvePromise, reject) => {
    const ws = new WebSocket(url, { perMessageDeflate: false });
    ws.once('open', () => resolvePromise(ws));
    ws.once('error', reject);
    ws.on('message', (d: Buffer) => onMessage(d.toString('utf8')));
  });
}

/** User + system CPU time of a process in milliseconds (Linux /proc; clock ticks of 10 ms). */
async function cpuMsOf(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

async function rssOf(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? 0) * 1024;
}

function forkReady(script: string, args: string[]): Promise<ChildProcess> {
  return new Promise((resolvePromise, reject) => {
    const child = fork(script, args, { stdio: 'ignore' });
    child.once('message', () => resolvePromise(child));
    child.once('exit', (code) => reject(new Error(`${script} exited ${code}`)));
  });
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'tapgate-bench-'));
  say(
    `Tapgate benchmark: ${N} endpoints + ${N} NEA clients, ${RATE} taps/s for ${DURATION_MS / 1000} s (Node ${process.version})`,
  );
  const users: DemoUser[] = Array.from({ length: N }, (_, i) => ({
    sAMAccountName: `u${String(i).padStart(5, '0')}`,
    displayName: `Bench User ${i}`,
    state: 'active',
  }));
  const platform = await Platform.start({
    dir,
    users,
    logLevel: 'warn',
    // TAPGATE_BENCH_PROFILE=DIR writes CPU profiles of the gateway, user-status and presence there (open it in Chrome DevTools).
    nodeOptions: process.env.TAPGATE_BENCH_PROFILE
      ? Object.fromEntries(
          ['ws-gateway', 'user-status', 'presence'].map((n) => [
            n,
            `--cpu-prof --cpu-prof-dir=${process.env.TAPGATE_BENCH_PROFILE}/${n}`,
          ]),
        )
      : undefined,
    // Generous per-socket limits: the load generator multiplexes heartbeats and adverts of 2,000 sockets.
    extraToml: '',
  });
  const children: ChildProcess[] = [];
  try {
    say('setting up terminals and enrollments through the policy API ...');
    const pairs: Pair[] = [];
    await pool(
      Array.from({ length: N }, (_, i) => i),
      8,
      async (i) => {
        const terminalId = `B-${String(i).padStart(5, '0')}`;
        const band = SoftwareBand.generate();
        band.clasp();
        band.authenticate();
        const t = await retry(() =>
          platform.api<{ credential: string }>('POST', '/v1/terminals', { terminalId }),
        );
        await retry(() =>
          platform.api('POST', '/v1/enrollments', {
            bandId: band.bandId,
            user: { sAMAccountName: users[i].sAMAccountName },
            publicKey: exportBandPublicKeyJwk(band.publicKey),
          }),
        );
        const endpoint = new AgentClient({
          url: `ws://127.0.0.1:${platform.ports.agent}/socket/websocket`,
          terminalId,
          credential: t.credential,
        });
        pairs[i] = { terminalId, band, endpoint };
      },
    );
    // NEA clients bind explicitly, so they are one application scoped to every terminal.
    const { credential } = await platform.api<{ credential: string }>('POST', '/v1/applications', {
      applicationId: 'bench-nea',
      displayName: 'benchmark NEA clients',
      terminals: ['*'],
    });
    const gateway = platform.process('ws-gateway');
    // Warm the gateway's heap first (young generation, JIT, buffers) with throwaway connections, so the
    // RSS growth measured below is what idle connections keep, not the heap's one-off growth.
    await pool(
      Array.from({ length: 500 }, (_, i) => i),
      50,
      async (i) => {
        const ws = await openWs(`ws://127.0.0.1:${platform.ports.webapi}/`, () => undefined);
        ws.send(encodeClientFrame('hello', { role: 'nea', terminalId: `WARM-${i}`, credential }));
        for (let k = 0; k < 5; k++) ws.send(encodeClientFrame('ping', undefined));
        await new Promise((r) => setTimeout(r, 50));
        ws.close();
      },
    );
    await new Promise((r) => setTimeout(r, 3000));
    const rssBefore = await gateway.rss();

    say('connecting endpoints and NEA clients ...');
    const latencies: number[] = [];
    let received = 0;
    const byTerminal = new Map(pairs.map((p) => [p.terminalId, p]));
    await pool(pairs, 100, async (p) => {
      p.endpoint.start();
      await new Promise<void>((r) => p.endpoint.once('connected', () => r()));
      p.nea = await openWs(`ws://127.0.0.1:${platform.ports.webapi}/`, (text) => {
        const at = performance.now();
        const m = decodeServerFrame(text);
        if (m instanceof Error || m.type !== 'tap') return;
        const pair = byTerminal.get(m.data.terminalId);
        if (pair?.sentAt !== undefined && m.data.decision.outcome === 'granted') {
          latencies.push(at - pair.sentAt);
          pair.sentAt = undefined;
          received++;
        }
      });
      p.nea.send(encodeClientFrame('hello', { role: 'nea', terminalId: p.terminalId, credential }));
    });
    // Presence: every band is on its wrist, authenticated, near its terminal.
    for (const p of pairs) p.endpoint.adverts([p.band.advert(-60)]);
    // Background traffic as a floor of real terminals makes it: every NEA client pings and every band
    // advertises once per 10 s (presence keeps a band authenticated until 60 s of silence), spread
    // evenly over the interval as independent terminals would be, not in one burst.
    const slice = Math.ceil(N / 100);
    let cursor = 0;
    const background = setInterval(() => {
      for (let k = 0; k < slice; k++) {
        const p = pairs[cursor++ % N];
        p.nea?.send(encodeClientFrame('ping', undefined));
        p.endpoint.adverts([p.band.advert(-60)]);
      }
    }, 100);
    await new Promise((r) => setTimeout(r, 3000));
    const rssAfter = await gateway.rss();
    const perConnectionKb = (rssAfter - rssBefore) / (2 * N) / 1024;

    let errored = 0;
    let refused = 0;
    const tapOnce = (i: number, record: boolean) => {
      const p = pairs[i % N];
      if (p.sentAt !== undefined) {
        errored++; // the previous tap of this terminal never arrived
        p.sentAt = undefined;
      }
      void p.endpoint
        .tap({
          kind: 'nfc',
          bandId: p.band.bandId,
          sign: (challenge, terminalId) => {
            const proof = p.band.answerTap({ challenge, terminalId });
            if (record) p.sentAt = performance.now();
            return proof;
          },
        })
        .then(
          (r) => {
            if (r.decision.outcome !== 'granted') refused++;
          },
          () => errored++,
        );
    };
    say('warming up (2 s) ...');
    await atRate(RATE, 2000, (i) => tapOnce(i, false));
    await new Promise((r) => setTimeout(r, 1000));
    latencies.length = 0;
    received = 0;
    errored = 0;
    refused = 0;
    say(`measuring (${DURATION_MS / 1000} s) ...`);
    const services = ['ws-gateway', 'user-status', 'presence'] as const;
    const cpuBefore = await Promise.all(services.map((n) => cpuMsOf(platform.process(n).child.pid!)));
    const benchCpuBefore = process.cpuUsage();
    const t0 = performance.now();
    const sent = await atRate(RATE, DURATION_MS, (i) => tapOnce(i, true));
    const elapsed = (performance.now() - t0) / 1000;
    const cpuAfter = await Promise.all(services.map((n) => cpuMsOf(platform.process(n).child.pid!)));
    const benchCpu = process.cpuUsage(benchCpuBefore);
    // CPU milliseconds each process spent per tap during the measurement (background traffic included).
    const cpuPerTapMs = Object.fromEntries([
      ...services.map((n, i) => [n, Math.round(((cpuAfter[i] - cpuBefore[i]) / sent) * 1000) / 1000]),
      ['load-generator', Math.round(((benchCpu.user + benchCpu.system) / 1000 / sent) * 1000) / 1000],
    ]) as Record<string, number>;
    await new Promise((r) => setTimeout(r, 3000));
    const lost = pairs.filter((p) => p.sentAt !== undefined).length + errored;
    const pipeline = summarize(latencies);
    clearInterval(background);

    // A gateway restart: every endpoint must come back by itself (jittered backoff), and taps flow again.
    say('restarting the gateway ...');
    const restartedAt = performance.now();
    await platform.restart('ws-gateway');
    const gatewayUpMs = performance.now() - restartedAt;
    await waitFor(() => pairs.every((p) => p.endpoint.connected), { timeoutMs: 60_000, intervalMs: 50 });
    const reconnectMs = performance.now() - restartedAt;
    say(
      `all ${N} endpoints reconnected ${(reconnectMs / 1000).toFixed(1)} s after the restart began (gateway ready after ${(gatewayUpMs / 1000).toFixed(1)} s)`,
    );

    say('measuring the floor in the same run ...');
    const floor = await measureFloor(platform.nats.url, N, RATE, Math.max(5000, DURATION_MS / 2), children);
    const verify = benchVerify(2000);
    // user-status alone: cache hits and misses against a real AD (Samba), next to a bare NATS
    // request/reply of the same run. Needs Samba's packages and root (scripts/setup.sh --with-samba).
    let userStatus: Awaited<ReturnType<typeof benchUserStatus>> | undefined;
    if (existsSync('/usr/bin/samba-tool') && process.getuid?.() === 0) {
      say('measuring user-status against Samba AD ...');
      userStatus = await benchUserStatus({ iterations: 500 });
    } else {
      say('skipping the user-status/Samba figures: Samba is not installed or not running as root');
    }

    const result = {
      at: new Date().toISOString(),
      node: process.version,
      endpoints: N,
      neaClients: N,
      rate: RATE,
      durationS: DURATION_MS / 1000,
      pipeline: {
        tapToNea: pipeline,
        sent,
        received,
        achievedTapsPerSecond: Math.round((received / elapsed) * 10) / 10,
        lostOrErrored: lost,
        refused,
      },
      floor,
      ratioP50: Math.round((pipeline.p50 / floor.route.p50) * 100) / 100,
      restart: {
        allEndpointsReconnectedMs: Math.round(reconnectMs),
        gatewayReadyMs: Math.round(gatewayUpMs),
      },
      gatewayRss: {
        beforeBytes: rssBefore,
        afterBytes: rssAfter,
        perConnectionKb: Math.round(perConnectionKb * 100) / 100,
      },
      userStatus,
      cpuPerTapMs,
      verifyProof: {
        usPerOp: Math.round(verify.usPerOp * 10) / 10,
        opsPerSecond: Math.round(verify.opsPerSecond),
      },
      goals: { p99Ms: 10, ratioP50: 3, perConnectionKb: 16 },
    };
    say('');
    say(`tap -> NEA (pipeline)     ${fmt(pipeline)}`);
    say(`floor route (ws->NATS->ws) ${fmt(floor.route)}`);
    say(`floor ws echo             ${fmt(floor.wsEcho)}`);
    say(`floor NATS request/reply  ${fmt(floor.natsRequest)}`);
    say(`ratio pipeline p50 / floor route p50: ${result.ratioP50}x   (goal <= 3x)`);
    say(
      `taps: sent ${sent}, delivered ${received}, ${result.pipeline.achievedTapsPerSecond}/s, lost or errored ${lost}, refused ${refused}`,
    );
    say(
      `gateway RSS: ${(rssBefore / 1048576).toFixed(1)} MB -> ${(rssAfter / 1048576).toFixed(1)} MB, ${result.gatewayRss.perConnectionKb} KB per idle connection (goal <= 16 KB; a bare ws server with a NATS connection, same run: ${floor.perConnectionKb} KB)`,
    );
    if (userStatus) {
      const u = userStatus;
      say(
        `user-status request: cache hit p50 ${u.hit.p50.toFixed(3)} p99 ${u.hit.p99.toFixed(3)} ms; miss (Samba, LDAPS) p50 ${u.miss.p50.toFixed(3)} p99 ${u.miss.p99.toFixed(3)} ms; bare NATS request/reply p50 ${u.floor.p50.toFixed(3)} p99 ${u.floor.p99.toFixed(3)} ms`,
      );
    }
    say(
      `CPU per tap (ms, incl. background heartbeats and adverts): ${Object.entries(cpuPerTapMs)
        .map(([k, v]) => `${k} ${v}`)
        .join(', ')}`,
    );
    say(
      `proof verification: ${result.verifyProof.usPerOp} us per tap (${result.verifyProof.opsPerSecond}/s on one core)`,
    );
    mkdirSync(values.out, { recursive: true });
    const file = resolve(values.out, `bench-${result.at.replace(/[:.]/g, '-')}.json`);
    writeFileSync(file, JSON.stringify(result, null, 2));
    say(`figures written to ${file}`);
    for (const p of pairs) {
      p.nea?.close();
      await p.endpoint.stop();
    }
  } finally {
    for (const c of children) c.kill();
    await platform.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function measureFloor(
  natsUrl: string,
  pairsCount: number,
  rate: number,
  durationMs: number,
  children: ChildProcess[],
): Promise<{ route: Summary; wsEcho: Summary; natsRequest: Summary; perConnectionKb: number }> {
  const port = await freePort();
  const script = join(__dirname, 'floor.js');
  children.push(await forkReady(script, ['responder', natsUrl]));
  const server = await forkReady(script, ['server', natsUrl, String(port)]);
  children.push(server);
  // The same heap warm-up as the gateway's, then RSS before and after the same number of sockets.
  await pool(
    Array.from({ length: 500 }, (_, i) => i),
    50,
    async (i) => {
      const ws = await openWs(`ws://127.0.0.1:${port}/sink?k=warm${i}`, () => undefined);
      ws.send('warm');
      await new Promise((r) => setTimeout(r, 50));
      ws.close();
    },
  );
  await new Promise((r) => setTimeout(r, 3000));
  const rssBefore = await rssOf(server.pid!);
  const sentAt = new Map<string, number>();
  const samples: number[] = [];
  const sources: WebSocket[] = [];
  await pool(
    Array.from({ length: pairsCount }, (_, i) => i),
    50,
    async (i) => {
      await openWs(`ws://127.0.0.1:${port}/sink?k=${i}`, (text) => {
        const t = sentAt.get(text);
        if (t !== undefined) {
          samples.push(performance.now() - t);
          sentAt.delete(text);
        }
      });
      sources[i] = await openWs(`ws://127.0.0.1:${port}/source?k=${i}`, () => undefined);
    },
  );
  await new Promise((r) => setTimeout(r, 3000));
  const perConnectionKb =
    Math.round(((await rssOf(server.pid!)) - rssBefore) / (2 * pairsCount) / 10.24) / 100;
  await atRate(rate, 1000, (i) => sources[i % pairsCount].send(`warm-${i}`));
  await new Promise((r) => setTimeout(r, 500));
  samples.length = 0;
  await atRate(rate, durationMs, (i) => {
    const body = JSON.stringify({ v: 1, type: 'tap', data: { tapId: `f-${i}`, pad: 'x'.repeat(300) } });
    sentAt.set(body, performance.now());
    sources[i % pairsCount].send(body);
  });
  await new Promise((r) => setTimeout(r, 1000));
  const route = summarize(samples);
  for (const s of sources) s.close();

  // The two parts alone, one message in flight at a time.
  const echoSamples: number[] = [];
  let resolveEcho: (() => void) | undefined;
  const echo = await openWs(`ws://127.0.0.1:${port}/echo`, () => resolveEcho?.());
  for (let i = 0; i < 3000; i++) {
    const t = performance.now();
    await new Promise<void>((r) => {
      resolveEcho = r;
      echo.send('ping');
    });
    if (i >= 500) echoSamples.push(performance.now() - t);
  }
  echo.close();
  const nc = await connect({ servers: natsUrl });
  const natsSamples: number[] = [];
  for (let i = 0; i < 3000; i++) {
    const t = performance.now();
    await nc.request('floor.req', new TextEncoder().encode('ping'), { timeout: 2000 });
    if (i >= 500) natsSamples.push(performance.now() - t);
  }
  await nc.close();
  return { route, wsEcho: summarize(echoSamples), natsRequest: summarize(natsSamples), perConnectionKb };
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    console.error(`bench failed: ${(e as Error).stack ?? String(e)}`);
    process.exit(1);
  },
);
