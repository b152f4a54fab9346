// Tap -> NEA latency under load: ENDPOINTS terminals, each with an endpoint and an NEA client bound to it,
// tapping RATE times per second in total for DURATION.
//   k6 run -e TAPGATE_URL=ws://127.0.0.1:9120 -e ENDPOINTS=2000 -e RATE=500 -e DURATION=2m k6/tap-latency.js
// The goal (shared/reference/performance.md) is p99 <= 10 ms; keep >= 20% CPU idle on the k6 machine.
import exec from 'k6/execution';
import { SharedArray } from 'k6/data';
import { clearInterval, setInterval, setTimeout } from 'k6/timers';
import { readSettings } from './lib/settings.js';
import { setupTerminals } from './lib/setup.js';
import { Terminal, terminalsOfVu } from './lib/terminal.js';

const settings = readSettings(__ENV, { endpoints: 2000, rate: 500, duration: '2m' });
// Connections open at about 200/s before tapping starts, so the handshakes do not skew the latencies.
const rampMs = Math.max(2000, Math.ceil((2 * settings.endpoints * 1000) / 200));
const fileCredentials = new SharedArray('credentials', () =>
  settings.credentialsFile ? [JSON.parse(open(settings.credentialsFile))] : [{}],
);

// Enrolled bands must be granted: a refusal (or a tap that could not be signed) fails the run.
const grantThresholds = settings.adminToken
  ? { 'tapgate_tap_decisions{outcome:refused}': ['count==0'], tapgate_taps_unsigned: ['count==0'] }
  : {};

export const options = {
  scenarios: {
    // Arrival rate is constant by construction: every terminal taps on its own timer with its phase spread
    // over the period, whatever the answers. k6's constant-arrival-rate executor cannot be used because
    // its iterations run in other VUs, which cannot reach these sockets.
    terminals: {
      executor: 'per-vu-iterations',
      vus: settings.vus,
      iterations: 1,
      maxDuration: Math.ceil((rampMs + settings.durationMs + settings.drainMs) / 1000) + 60 + 's',
    },
  },
  // Object.assign, not object spread: k6 v0.50 cannot compile `...` in an object literal.
  thresholds: Object.assign(
    {
      tapgate_tap_to_nea_ms: ['p(99)<10'],
      tapgate_taps_lost: ['count==0'],
      tapgate_tap_results_missing: ['count==0'],
      tapgate_taps_not_ready: ['count==0'],
      tapgate_taps_not_sent: ['count==0'],
      tapgate_ws_unexpected_close: ['count==0'],
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
  const periodMs = (settings.endpoints / settings.rate) * 1000;
  const terminals = [];
  for (let i = range.first; i < range.last; i++) {
    const terminal = new Terminal(i, settings, data.credentials, data.bandKeys, data.appCredential);
    terminals.push(terminal);
    setTimeout(() => terminal.connect(), Math.floor((i / settings.endpoints) * (rampMs - 1000)));
    // Phases spread evenly over one period: the sum over all terminals is RATE taps per second.
    setTimeout(
      () => terminal.startTapping(periodMs),
      rampMs + Math.floor((i / settings.endpoints) * periodMs),
    );
  }
  const sweeper = setInterval(() => {
    const now = Date.now();
    for (const t of terminals) t.sweep(now, settings.tapTimeoutMs);
  }, 500);
  setTimeout(() => {
    for (const t of terminals) t.stopTapping();
  }, rampMs + settings.durationMs);
  setTimeout(
    () => {
      clearInterval(sweeper);
      for (const t of terminals) t.close();
    },
    rampMs + settings.durationMs + settings.drainMs,
  );
}
