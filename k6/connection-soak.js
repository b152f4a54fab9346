// Connection soak: ENDPOINTS terminals (an endpoint and an NEA socket each, so 2 x ENDPOINTS sockets),
// opened at RATE new sockets per second, then held idle with heartbeats for DURATION. At the end every
// terminal taps once, proving its sockets still carry traffic, and every socket must still be open.
//   k6 run -e TAPGATE_URL=ws://127.0.0.1:9120 -e ENDPOINTS=10000 -e RATE=500 -e DURATION=30m k6/connection-soak.js
// Watch the gateway's memory per connection meanwhile (goal: <= 16 KB per idle socket).
import exec from 'k6/execution';
import { SharedArray } from 'k6/data';
import { clearInterval, setInterval, setTimeout } from 'k6/timers';
import { readSettings } from './lib/settings.js';
import { setupTerminals } from './lib/setup.js';
import { Terminal, terminalsOfVu } from './lib/terminal.js';

const settings = readSettings(__ENV, { endpoints: 5000, rate: 200, duration: '10m' });
const rampMs = Math.ceil((2 * settings.endpoints * 1000) / settings.rate);
const fileCredentials = new SharedArray('credentials', () =>
  settings.credentialsFile ? [JSON.parse(open(settings.credentialsFile))] : [{}],
);

// Enrolled bands must be granted: a refusal (or a tap that could not be signed) fails the run.
const grantThresholds = settings.adminToken
  ? { 'tapgate_tap_decisions{outcome:refused}': ['count==0'], tapgate_taps_unsigned: ['count==0'] }
  : {};

export const options = {
  scenarios: {
    soak: {
      executor: 'per-vu-iterations',
      vus: settings.vus,
      iterations: 1,
      maxDuration: Math.ceil((rampMs + settings.durationMs + settings.drainMs) / 1000) + 120 + 's',
    },
  },
  // Object.assign, not object spread: k6 v0.50 cannot compile `...` in an object literal.
  thresholds: Object.assign(
    {
      tapgate_ws_unexpected_close: ['count==0'],
      tapgate_heartbeat_missed: ['count==0'],
      tapgate_heartbeat_rtt_ms: ['p(99)<100'],
      tapgate_taps_lost: ['count==0'],
      tapgate_tap_results_missing: ['count==0'],
      tapgate_taps_not_ready: ['count==0'],
      tapgate_taps_not_sent: ['count==0'],
      checks: ['rate==1'],
    },
    grantThresholds,
  ),
  // Enrolling (one key pair and two policy API calls per terminal) takes a while for thousands.
  setupTimeout: Math.ceil(60 + settings.endpoints / 20) + 's',
  summaryTrendStats: ['min', 'med', 'p(95)', 'p(99)', 'max', 'count'],
};

/** Enrolls the terminals when TAPGATE_ADMIN_TOKEN is set (signed taps); see docs/operations.md. */
export async function setup() {
  return setupTerminals(settings, fileCredentials[0]);
}

export default function (data) {
  const range = terminalsOfVu(exec.vu.idInTest, settings);
  const terminals = [];
  for (let i = range.first; i < range.last; i++) {
    const terminal = new Terminal(i, settings, data.credentials, data.bandKeys, data.appCredential);
    terminals.push(terminal);
    setTimeout(() => terminal.connect(), Math.floor((i / settings.endpoints) * rampMs));
  }
  const sweeper = setInterval(() => {
    const now = Date.now();
    for (const t of terminals) t.sweep(now, settings.tapTimeoutMs);
  }, 1000);
  // One tap per terminal after the idle hold, spread over 5 s.
  setTimeout(() => {
    terminals.forEach((t, n) => setTimeout(() => t.tap(), Math.floor((n / terminals.length) * 5000)));
  }, rampMs + settings.durationMs);
  setTimeout(
    () => {
      clearInterval(sweeper);
      for (const t of terminals) t.close();
    },
    rampMs + settings.durationMs + 5000 + settings.drainMs,
  );
}
