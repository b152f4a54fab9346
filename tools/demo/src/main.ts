import { SoftwareBand, exportBandPublicKeyJwk } from '@tapgate/band';
import { decodeServerFrame, encodeClientFrame } from '@tapgate/contracts';
import {
  Platform,
  REPO_ROOT,
  startServiceProcess,
  type DemoUser,
  type ServiceProcess,
} from '@tapgate/testing';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { join, resolve } from 'node:path';
import WebSocket from 'ws';

const TERMINAL = 'DEMO-T1';
const PAGE_PORT = Number(process.env.TAPGATE_DEMO_PORT ?? 8090);
const CONTROL_PORT = Number(process.env.TAPGATE_DEMO_CONTROL_PORT ?? 9130);
const DIR = resolve(REPO_ROOT, '.demo');

const USERS: DemoUser[] = [
  { sAMAccountName: 'alice', displayName: 'Alice Able', state: 'active' },
  { sAMAccountName: 'bob', displayName: 'Bob Baker', state: 'disabled' },
  { sAMAccountName: 'erin', displayName: 'Erin Evans', state: 'active' },
  { sAMAccountName: 'dave', displayName: 'Dave Dunn', state: 'must_change_password' },
];
/** Which demo users wear a band, and whether it starts authenticated (fingerprint done). */
const BANDS: Array<{ user: string; authenticated: boolean }> = [
  { user: 'alice', authenticated: true },
  { user: 'bob', authenticated: true },
  { user: 'erin', authenticated: false },
  { user: 'dave', authenticated: true },
];

const say = (line: string) => console.log(`[demo] ${line}`);

async function main(): Promise<void> {
  mkdirSync(join(DIR, 'bands'), { recursive: true });
  say(`starting NATS, Redis and the services (logs in ${join(DIR, 'logs')}) ...`);
  const platform = await Platform.start({ dir: DIR, agentPort: 9120, webapiPort: 4443, users: USERS });
  const procs: { endpoint?: ServiceProcess } = {};
  const stop = async () => {
    say('stopping ...');
    await procs.endpoint?.stop();
    await platform.stop();
    process.exit(0);
  };
  process.once('SIGINT', () => void stop());
  process.once('SIGTERM', () => void stop());

  const terminal = await platform
    .api<{ credential: string }>('POST', '/v1/terminals', {
      terminalId: TERMINAL,
      description: 'demo terminal',
    })
    .catch(async () => platform.api<{ credential: string }>('POST', `/v1/terminals/${TERMINAL}/credential`));
  writeFileSync(join(DIR, 'terminal.credential'), terminal.credential, { mode: 0o600 });
  say(`registered terminal ${TERMINAL}; its credential is in .demo/terminal.credential`);

  const bandIds: Record<string, string> = {};
  for (const b of BANDS) {
    const band = SoftwareBand.loadOrCreate(join(DIR, 'bands', `${b.user}.json`));
    bandIds[b.user] = band.bandId;
    await platform
      .api('POST', '/v1/enrollments', {
        bandId: band.bandId,
        user: { sAMAccountName: b.user },
        publicKey: exportBandPublicKeyJwk(band.publicKey),
      })
      .catch((e: Error) => {
        if (!/409/.test(e.message)) throw e;
      });
    say(`enrolled band ${band.bandId} to ${b.user}`);
  }

  writeFileSync(
    join(DIR, 'nbe.toml'),
    `agent_url = "ws://127.0.0.1:9120/socket/websocket"
rssi_window_tap = 10
rssi_window_long = 50
rssi_tap_threshold = -42
terminal_id = "${TERMINAL}"
credential_file = "terminal.credential"
control_port = ${CONTROL_PORT}
`,
  );
  procs.endpoint = await startServiceProcess({
    name: 'endpoint-node',
    script: 'services/endpoint-node/dist/main.js',
    args: ['run', '--config', join(DIR, 'nbe.toml'), '--bands', join(DIR, 'bands')],
    env: {},
    logFile: join(DIR, 'logs', 'endpoint-node.log'),
    readyUrl: `http://127.0.0.1:${CONTROL_PORT}/status`,
  });
  const control = (path: string, body?: unknown) =>
    fetch(`http://127.0.0.1:${CONTROL_PORT}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body ?? {}),
    });
  for (const b of BANDS) {
    await control(`/bands/${bandIds[b.user]}/clasp`);
    if (b.authenticated) await control(`/bands/${bandIds[b.user]}/authenticate`);
    await control(`/bands/${bandIds[b.user]}/rssi`, { rssi: -62 });
  }
  say(`endpoint node for ${TERMINAL} connected; bands of ${BANDS.map((b) => b.user).join(', ')} are nearby`);

  watchTaps();
  servePage(bandIds);
  say(`open http://127.0.0.1:${PAGE_PORT}/ to tap and watch; or from a shell:`);
  say(`  node services/endpoint-node/dist/main.js tap ${bandIds.alice} --control-port ${CONTROL_PORT}`);
  say('press Ctrl-C to stop');
}

/** The demo's console view: an NEA client bound to the terminal prints every tap it receives. */
function watchTaps(): void {
  const connect = () => {
    const ws = new WebSocket('ws://127.0.0.1:9120/');
    ws.on('open', () =>
      ws.send(
        encodeClientFrame('hello', {
          role: 'nea',
          terminalId: TERMINAL,
          app: { name: 'demo-console', version: '1' },
        }),
      ),
    );
    ws.on('message', (d: Buffer) => {
      const m = decodeServerFrame(d.toString('utf8'));
      if (m instanceof Error || m.type !== 'tap') return;
      const dec = m.data.decision;
      const who = dec.user?.displayName ?? m.data.bandId ?? 'unknown band';
      say(
        `tap (${m.data.kind}) on ${m.data.terminalId} by ${who}: ${dec.outcome.toUpperCase()}${dec.reason ? ` (${dec.reason})` : ''} - ${dec.message ?? ''}`,
      );
    });
    ws.on('close', () => setTimeout(connect, 1000));
    ws.on('error', () => undefined);
    setInterval(
      () => ws.readyState === WebSocket.OPEN && ws.send(encodeClientFrame('ping', undefined)),
      10_000,
    ).unref();
  };
  connect();
}

function servePage(bandIds: Record<string, string>): void {
  const page = readFileSync(join(REPO_ROOT, 'tools/demo/public/index.html'), 'utf8').replace(
    '/*DEMO_CONFIG*/',
    `window.DEMO = ${JSON.stringify({ terminalId: TERMINAL, agentPort: 9120, bands: bandIds })};`,
  );
  createServer((req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (req.method === 'GET' && (url.pathname === '/' || url.pathname === '/index.html')) {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      res.end(page);
      return;
    }
    // The page drives the simulated reader through this proxy (the control port is loopback-only).
    const m = /^\/api\/bands\/([A-Za-z0-9_-]+)\/(tap|authenticate|clasp|remove|approach)$/.exec(url.pathname);
    if (req.method === 'POST' && m) {
      void fetch(`http://127.0.0.1:${CONTROL_PORT}/bands/${m[1]}/${m[2]}`, { method: 'POST', body: '{}' })
        .then(async (r) => {
          res.writeHead(r.status, { 'content-type': 'application/json' });
          res.end(await r.text());
        })
        .catch((e: Error) => {
          res.writeHead(502, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ error: e.message }));
        });
      return;
    }
    res.writeHead(404);
    res.end();
  }).listen(PAGE_PORT, '127.0.0.1');
}

main().catch((e: unknown) => {
  console.error(`[demo] failed: ${(e as Error).message}`);
  process.exit(1);
});
