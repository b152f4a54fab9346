import { decodeServerFrame, encodeClientFrame } from '@tapgate/contracts';
import { Platform, REPO_ROOT, type DemoUser } from '@tapgate/testing';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';
import WebSocket from 'ws';
import { startDemo, type DemoBand, type RunningDemo } from './demo';

const TERMINAL = 'DEMO-T1';
const PAGE_PORT = Number(process.env.TAPGATE_DEMO_PORT ?? 8090);
const CONTROL_PORT = Number(process.env.TAPGATE_DEMO_CONTROL_PORT ?? 9130);
/** The policy service: REST API and administrator console (docs/operations.md, "The demo"). */
const CONSOLE_PORT = Number(process.env.TAPGATE_DEMO_CONSOLE_PORT ?? 8091);
const AGENT_PORT = 9120;
const WEBAPI_PORT = 4443;
const AUDIENCE = 'pomsnet-demo';
const DIR = resolve(REPO_ROOT, '.demo');

const USERS: DemoUser[] = [
  { sAMAccountName: 'alice', displayName: 'Alice Able', state: 'active' },
  { sAMAccountName: 'bob', displayName: 'Bob Baker', state: 'disabled' },
  { sAMAccountName: 'erin', displayName: 'Erin Evans', state: 'active' },
  { sAMAccountName: 'dave', displayName: 'Dave Dunn', state: 'must_change_password' },
];
const BANDS: DemoBand[] = [
  { user: 'alice', authenticated: true },
  { user: 'bob', authenticated: true },
  { user: 'erin', authenticated: true },
  { user: 'dave', authenticated: true },
];

const say = (line: string) => console.log(`[demo] ${line}`);

/** Fails with the port's name and the variable that moves it, before anything starts. */
async function assertPortFree(port: number, what: string, variable?: string): Promise<void> {
  await new Promise<void>((ok, fail) => {
    const probe = createServer();
    probe.once('error', (e: NodeJS.ErrnoException) =>
      fail(
        new Error(
          `port ${port} (${what}) is ${e.code === 'EADDRINUSE' ? 'already in use' : `not usable (${e.code})`}; stop what holds it${variable ? ` or set ${variable}` : ''}`,
        ),
      ),
    );
    probe.listen(port, () => probe.close(() => ok()));
  });
}

async function main(): Promise<void> {
  await assertPortFree(CONSOLE_PORT, 'console and policy API', 'TAPGATE_DEMO_CONSOLE_PORT');
  await assertPortFree(PAGE_PORT, 'demo page', 'TAPGATE_DEMO_PORT');
  await assertPortFree(CONTROL_PORT, 'endpoint node control', 'TAPGATE_DEMO_CONTROL_PORT');
  await assertPortFree(AGENT_PORT, 'standard interface [agent]');
  await assertPortFree(WEBAPI_PORT, 'web API [webapi]');
  say(`starting NATS, Redis and the services (logs in ${join(DIR, 'logs')}) ...`);
  const platform = await Platform.start({
    dir: DIR,
    agentPort: AGENT_PORT,
    webapiPort: WEBAPI_PORT,
    policyHttpPort: CONSOLE_PORT,
    bootstrapAdmin: true,
    users: USERS,
  });
  const running: { demo?: RunningDemo } = {};
  const stop = async () => {
    say('stopping ...');
    await running.demo?.stop();
    await platform.stop();
    process.exit(0);
  };
  process.once('SIGINT', () => void stop());
  process.once('SIGTERM', () => void stop());

  const demo = await startDemo(platform, {
    dir: DIR,
    terminalId: TERMINAL,
    pagePort: PAGE_PORT,
    controlPort: CONTROL_PORT,
    bands: BANDS,
    audience: AUDIENCE,
    newBand: true,
  });
  running.demo = demo;
  for (const b of BANDS) say(`enrolled band ${demo.bandIds[b.user]} to ${b.user}`);
  say(`registered terminal ${TERMINAL} (credential in .demo/terminal.credential); endpoint node connected`);
  say(`JWKS: ${platform.jwksUrl}`);
  // The console tap log binds explicitly, so it is an application with its own credential (docs/security.md).
  // A fresh one per run (a previous run's credential was never saved).
  await platform.api('DELETE', '/v1/applications/demo-console').catch(() => undefined);
  const app = await platform.api<{ credential: string }>('POST', '/v1/applications', {
    applicationId: 'demo-console',
    displayName: 'Demo console (tap log)',
    terminals: [TERMINAL],
  });
  say('registered application demo-console for the tap log below; the page binds by address');
  watchTaps(platform.ports.agent, app.credential);
  say(
    `open ${demo.page.url} (POMSnet parameters in the URL: ?host=&port=&protocol=ws|wss&authUrl=&debug=1&terminal=)`,
  );
  say(`administrator console: ${platform.policyUrl}/console/`);
  say(`  sign in with the one-time code ${platform.bootstrapAdminCode()} (single use, expires;`);
  say(`  a new one at each start), or with the break-glass token in .demo/admin.token`);
  if (demo.newBandId) {
    say(
      `enroll by tap: in the console's Enrollments, "Enroll by tap" at ${TERMINAL}, then tap "new band" on the page (${demo.newBandId})`,
    );
  }
  say(`or tap from a shell:`);
  say(`  node services/endpoint-node/dist/main.js tap ${demo.bandIds.alice} --control-port ${CONTROL_PORT}`);
  say('press Ctrl-C to stop');
}

/** The demo's console view: an NEA client bound to the terminal prints every tap it receives. */
function watchTaps(agentPort: number, credential: string): void {
  const connect = () => {
    const ws = new WebSocket(`ws://127.0.0.1:${agentPort}/`);
    const heartbeat = setInterval(
      () => ws.readyState === WebSocket.OPEN && ws.send(encodeClientFrame('ping', undefined)),
      10_000,
    );
    ws.on('open', () =>
      ws.send(
        encodeClientFrame('hello', {
          role: 'nea',
          terminalId: TERMINAL,
          credential,
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
    ws.on('close', () => {
      clearInterval(heartbeat);
      setTimeout(connect, 1000);
    });
    ws.on('error', () => undefined);
  };
  connect();
}

main().catch((e: unknown) => {
  console.error(`[demo] failed: ${(e as Error).message}`);
  process.exit(1);
});
