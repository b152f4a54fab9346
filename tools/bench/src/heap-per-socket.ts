/**
 * What one idle socket costs the gateway's JavaScript heap, by constructor: starts the platform as the
 * bench does, with the gateway's inspector open, and takes a heap snapshot (after a forced GC) before and
 * after connecting N endpoints that did their hello/welcome, and again after N NEA clients did theirs.
 * The diff of self sizes by node name, divided by N, is the heap per socket of each kind; RSS is read
 * alongside (noisy, for comparison with the bench's figure).
 *
 * Usage: node tools/bench/dist/heap-per-socket.js [n] [--idle S] [--rows 30] [--json FILE] [--save DIR]
 * (--save writes the three snapshots, to open in Chrome DevTools' Memory tab). --idle holds the sockets
 * S seconds before each measurement (default 2): an idle endpoint keeps collecting the challenges the
 * gateway pushes to it, up to the store's limit, so the steady state of an idle socket needs minutes.
 */
import { encodeClientFrame, decodeServerFrame } from '@tapgate/contracts';
import { Platform } from '@tapgate/testing';
import { setLogLevel } from '@tapgate/telemetry';
import { fork } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import WebSocket from 'ws';
import type { IdleEndpointsJob, IdleEndpointsReady } from './idle-endpoints';
import { INSPECT_NODE_OPTIONS, InspectorSession, inspectorUrlFromLog } from './inspector';
import { rssOf } from './proc';
import { pool } from './stats';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    rows: { type: 'string', default: '30' },
    idle: { type: 'string', default: '2' },
    json: { type: 'string' },
    save: { type: 'string' },
  },
});
const N = Number(positionals[0] ?? '500');
const ROWS = Number(values.rows);
const IDLE_MS = Number(values.idle) * 1000;
if (!Number.isInteger(N) || N <= 0 || !Number.isInteger(ROWS) || ROWS <= 0 || !(IDLE_MS >= 0)) {
  console.error('usage: heap-per-socket [n] [--idle S] [--rows 30] [--json FILE] [--save DIR]');
  process.exit(2);
}
/** Throwaway sockets of each kind before the first snapshot: JIT, inline caches and pools grow once. */
const WARM = Math.min(100, N);
const say = (s: string) => console.log(s);
setLogLevel('error');

/** Count and self size of the heap's nodes, by a name that groups them the way DevTools' summary does. */
type HeapCensus = Map<string, { count: number; bytes: number }>;

interface HeapSnapshotJson {
  snapshot: {
    meta: { node_fields: string[]; node_types: [string[], ...unknown[]]; location_fields?: string[] };
  };
  nodes: number[];
  strings: string[];
  locations?: number[];
}

/** Script id -> a short file name (from the inspector's Debugger.scriptParsed events). */
type ScriptNames = Map<string, string>;

/** The part of a script URL that says whose code it is: services/..., libs/..., or the package's path. */
function shortScriptName(url: string): string {
  const m = /(?:node_modules\/|\/(?=services\/|libs\/))(.*)$/.exec(url);
  return m ? m[1] : url.replace(/^file:\/\//, '');
}

/** Objects, closures and native objects by constructor or function name; everything else by its type. */
function nodeGroup(type: string, name: string, where: string | undefined): string {
  switch (type) {
    case 'object':
    case 'native':
      return name;
    case 'closure':
      return `(closure) ${name || '(anonymous)'}${where ? ` @ ${where}` : ''}`;
    case 'hidden':
    case 'array':
    case 'object shape':
      // "system / PropertyArray", "(object elements)", "(internal array)": the kind of V8-internal node.
      return `(${type}) ${name.replace(/\d+/g, '#')}`.trim();
    default:
      return `(${type})`;
  }
}

function census(json: string, scripts: ScriptNames): HeapCensus {
  const snap = JSON.parse(json) as HeapSnapshotJson;
  const fields = snap.snapshot.meta.node_fields;
  const types = snap.snapshot.meta.node_types[0];
  const width = fields.length;
  const typeAt = fields.indexOf('type');
  const nameAt = fields.indexOf('name');
  const sizeAt = fields.indexOf('self_size');
  // Where each closure's function was written (file:line), so that closures per socket can be found.
  const whereOf = new Map<number, string>();
  const loc = snap.snapshot.meta.location_fields ?? [];
  const l = snap.locations ?? [];
  const [objectAt, scriptAt, lineAt] = ['object_index', 'script_id', 'line'].map((f) => loc.indexOf(f));
  for (let i = 0; loc.length > 0 && i < l.length; i += loc.length) {
    const script = scripts.get(String(l[i + scriptAt]));
    if (script) whereOf.set(l[i + objectAt], `${script}:${l[i + lineAt] + 1}`);
  }
  const out: HeapCensus = new Map();
  for (let i = 0; i < snap.nodes.length; i += width) {
    const key = nodeGroup(
      types[snap.nodes[i + typeAt]],
      snap.strings[snap.nodes[i + nameAt]],
      whereOf.get(i),
    );
    const e = out.get(key) ?? { count: 0, bytes: 0 };
    e.count++;
    e.bytes += snap.nodes[i + sizeAt];
    out.set(key, e);
  }
  return out;
}

const totalBytes = (c: HeapCensus) => [...c.values()].reduce((s, e) => s + e.bytes, 0);

/** The gateway's heap after a forced GC, as a census (and the raw snapshot when --save asks for it). */
async function snapshot(session: InspectorSession, scripts: ScriptNames, label: string): Promise<HeapCensus> {
  await session.post('HeapProfiler.collectGarbage');
  const chunks: string[] = [];
  session.on<{ chunk: string }>('HeapProfiler.addHeapSnapshotChunk', (p) => chunks.push(p.chunk));
  await session.post('HeapProfiler.takeHeapSnapshot', { reportProgress: false });
  const json = chunks.join('');
  if (values.save) {
    mkdirSync(resolve(values.save), { recursive: true });
    writeFileSync(join(resolve(values.save), `${label}.heapsnapshot`), json);
  }
  return census(json, scripts);
}

function openWs(url: string): Promise<WebSocket> {
  return new Promise((resolvePromise, reject) => {
    const ws = new WebSocket(url, { perMessageDeflate: false });
    ws.once('open', () => resolvePromise(ws));
    ws.once('error', reject);
  });
}

/** An NEA client that sent its hello, got its welcome, and then sends the heartbeats `welcome` asks for. */
async function connectNea(url: string, terminalId: string, credential: string): Promise<WebSocket> {
  const ws = await openWs(url);
  const heartbeatIntervalMs = await new Promise<number>((resolveWelcome, reject) => {
    ws.on('message', (d: Buffer) => {
      const m = decodeServerFrame(d.toString('utf8'));
      if (m instanceof Error) return;
      if (m.type === 'welcome') resolveWelcome(m.data.heartbeatIntervalMs);
      else if (m.type === 'error') reject(new Error(`NEA hello refused: ${m.data.code}`));
    });
    ws.send(encodeClientFrame('hello', { role: 'nea', terminalId, credential }));
  });
  const heartbeat = setInterval(() => ws.send(encodeClientFrame('ping', undefined)), heartbeatIntervalMs);
  ws.once('close', () => clearInterval(heartbeat));
  return ws;
}

/** Endpoints that did their hello/welcome and then heartbeat, held by a child process (idle-endpoints). */
async function connectEndpoints(
  url: string,
  terminals: IdleEndpointsJob['terminals'],
): Promise<{ stop(): void }> {
  const worker = fork(join(__dirname, 'idle-endpoints.js'), [], { stdio: 'ignore' });
  const ready = await new Promise<IdleEndpointsReady>((resolveReady, reject) => {
    worker.once('message', (m: IdleEndpointsReady) => resolveReady(m));
    worker.once('exit', (code) => reject(new Error(`idle-endpoints exited ${code}`)));
    const job: IdleEndpointsJob = { url, localAddress: '127.0.0.1', terminals };
    worker.send(job);
  });
  if (ready.failed > 0) {
    worker.kill();
    throw new Error(`${ready.failed} endpoints failed to connect (first: ${ready.firstError})`);
  }
  return { stop: () => worker.kill() };
}

const settle = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'tapgate-heap-'));
  say(
    `gateway heap per socket: ${N} endpoints + ${N} NEA clients, idle ${IDLE_MS / 1000} s before each measurement (Node ${process.version})`,
  );
  const platform = await Platform.start({
    dir,
    // The file directory needs one user; no tap is made here.
    users: [{ sAMAccountName: 'heap', displayName: 'Heap Probe', state: 'active' }],
    logLevel: 'warn',
    nodeOptions: { 'ws-gateway': INSPECT_NODE_OPTIONS },
  });
  const cleanUp = async () => {
    await platform.stop();
    rmSync(dir, { recursive: true, force: true });
  };
  process.once('SIGINT', () => void cleanUp().finally(() => process.exit(130)));
  try {
    const terminals: IdleEndpointsJob['terminals'] = [];
    await pool(
      Array.from({ length: N }, (_, i) => i),
      8,
      async (i) => {
        const terminalId = `H-${String(i).padStart(5, '0')}`;
        const t = await platform.api<{ credential: string }>('POST', '/v1/terminals', { terminalId });
        terminals[i] = { terminalId, credential: t.credential };
      },
    );
    const { credential } = await platform.api<{ credential: string }>('POST', '/v1/applications', {
      applicationId: 'heap-nea',
      displayName: 'heap-per-socket NEA clients',
      terminals: ['*'],
    });
    const agentUrl = `ws://127.0.0.1:${platform.ports.agent}/socket/websocket`;
    const neaUrl = `ws://127.0.0.1:${platform.ports.webapi}/`;
    const gateway = platform.process('ws-gateway');
    const session = await InspectorSession.connect(
      await inspectorUrlFromLog(join(dir, 'logs', 'ws-gateway.log')),
    );
    const scripts: ScriptNames = new Map();
    session.on<{ scriptId: string; url: string }>('Debugger.scriptParsed', (p) =>
      scripts.set(p.scriptId, shortScriptName(p.url)),
    );
    await session.post('Debugger.enable');
    await session.post('HeapProfiler.enable');

    // Warm-up: both kinds of socket once, closed again, so the snapshots diff what idle sockets keep.
    const warmEndpoints = await connectEndpoints(agentUrl, terminals.slice(0, WARM));
    const warmNeas: WebSocket[] = [];
    await pool(terminals.slice(0, WARM), 50, async (t) => {
      warmNeas.push(await connectNea(neaUrl, t.terminalId, credential));
    });
    warmEndpoints.stop();
    for (const ws of warmNeas) ws.close();
    await settle(3000);

    /** Connects N endpoints, then N NEA clients, measuring before, between and after; then closes them. */
    const round = async <T>(measure: (stage: string) => Promise<T>): Promise<[T, T, T]> => {
      const before = await measure('0-base');
      const endpoints = await connectEndpoints(agentUrl, terminals);
      const neas: WebSocket[] = [];
      try {
        await settle(IDLE_MS);
        const withEndpoints = await measure('1-endpoints');
        await pool(terminals, 50, async (t) => {
          neas.push(await connectNea(neaUrl, t.terminalId, credential));
        });
        await settle(IDLE_MS);
        return [before, withEndpoints, await measure('2-nea')];
      } finally {
        endpoints.stop();
        for (const ws of neas) ws.close();
        await settle(3000);
      }
    };
    // RSS first, in a round without snapshots: taking a snapshot grows the process's RSS by itself. This
    // round also warms the gateway for the heap round.
    const [rss0, rss1, rss2] = await round(async () => {
      await session.post('HeapProfiler.collectGarbage');
      return rssOf(gateway.pid()!);
    });
    say(`  RSS round done; heap snapshots of a second round ...`);
    const [base, withEndpoints, withNeas] = await round((stage) => snapshot(session, scripts, stage));
    session.close();

    const keys = new Set([...base.keys(), ...withEndpoints.keys(), ...withNeas.keys()]);
    const at = (c: HeapCensus, k: string) => c.get(k) ?? { count: 0, bytes: 0 };
    const rows = [...keys].map((k) => {
      const [b, e, n] = [at(base, k), at(withEndpoints, k), at(withNeas, k)];
      return {
        name: k,
        endpointCount: (e.count - b.count) / N,
        endpointBytes: (e.bytes - b.bytes) / N,
        neaCount: (n.count - e.count) / N,
        neaBytes: (n.bytes - e.bytes) / N,
        socketBytes: (n.bytes - b.bytes) / (2 * N),
      };
    });
    rows.sort((a, b) => Math.abs(b.socketBytes) - Math.abs(a.socketBytes));
    const shown = rows.slice(0, ROWS);
    const rest = rows.slice(ROWS);
    const sum = (list: typeof rows, f: (r: (typeof rows)[number]) => number) =>
      list.reduce((s, r) => s + f(r), 0);
    const heapPerEndpoint = (totalBytes(withEndpoints) - totalBytes(base)) / N;
    const heapPerNea = (totalBytes(withNeas) - totalBytes(withEndpoints)) / N;
    const heapPerSocket = (totalBytes(withNeas) - totalBytes(base)) / (2 * N);
    const table: string[][] = [
      ['node (constructor / type)', 'nodes/endpoint', 'bytes', 'nodes/NEA', 'bytes', 'bytes/socket'],
      ...shown.map((r) => [
        r.name.slice(0, 72),
        r.endpointCount.toFixed(2),
        r.endpointBytes.toFixed(0),
        r.neaCount.toFixed(2),
        r.neaBytes.toFixed(0),
        r.socketBytes.toFixed(0),
      ]),
      [
        `(${rest.length} other names)`,
        sum(rest, (r) => r.endpointCount).toFixed(2),
        sum(rest, (r) => r.endpointBytes).toFixed(0),
        sum(rest, (r) => r.neaCount).toFixed(2),
        sum(rest, (r) => r.neaBytes).toFixed(0),
        sum(rest, (r) => r.socketBytes).toFixed(0),
      ],
      [
        'total heap growth',
        sum(rows, (r) => r.endpointCount).toFixed(2),
        heapPerEndpoint.toFixed(0),
        sum(rows, (r) => r.neaCount).toFixed(2),
        heapPerNea.toFixed(0),
        heapPerSocket.toFixed(0),
      ],
    ];
    const widths = table[0].map((_, c) => Math.max(...table.map((row) => row[c].length)));
    const line = (row: string[]) =>
      `| ${row.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]) : cell.padStart(widths[c]))).join(' | ')} |`;
    say('');
    say(line(table[0]));
    say(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`);
    for (const row of table.slice(1)) say(line(row));
    const kb = (bytes: number) => (bytes / 1024).toFixed(2);
    say('');
    say(
      `heap growth per socket: ${kb(heapPerSocket)} KB (endpoint ${kb(heapPerEndpoint)} KB, NEA ${kb(heapPerNea)} KB)`,
    );
    say(
      `RSS growth per socket: ${kb((rss2 - rss0) / (2 * N))} KB (endpoint ${kb((rss1 - rss0) / N)} KB, NEA ${kb((rss2 - rss1) / N)} KB)`,
    );
    if (values.json) {
      writeFileSync(
        resolve(values.json),
        JSON.stringify(
          {
            n: N,
            heapPerSocket,
            heapPerEndpoint,
            heapPerNea,
            rssPerSocket: (rss2 - rss0) / (2 * N),
            rssPerEndpoint: (rss1 - rss0) / N,
            rssPerNea: (rss2 - rss1) / N,
            rows,
          },
          null,
          2,
        ),
      );
    }
  } finally {
    await cleanUp();
  }
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    console.error(`heap-per-socket failed: ${(e as Error).stack ?? String(e)}`);
    process.exit(1);
  },
);
