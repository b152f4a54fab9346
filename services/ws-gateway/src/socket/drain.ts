import { CloseCode, encodeReconnectHint } from '@tapgate/contracts';
import { createLogger } from '@tapgate/telemetry';
import type { Connection } from './connection';
import type { ConnectionRegistry } from './connection-registry';

const log = createLogger('drain');

/** `[gateway] drain_*`: see docs/operations.md, "Rolling upgrades". */
export interface DrainTimings {
  delayMs: number;
  spreadMs: number;
  timeoutMs: number;
}

/**
 * Sockets closed on the spread schedule are already spread in time, so their hint only decorrelates
 * clients closed in the same instant (as the clients' own first backoff step would): they are offline
 * for a moment only.
 */
const SCHEDULED_HINT_MAX_MS = 250;
/** How often the drain looks at its sockets (a ceremony ending, a slot arriving). */
const TICK_MS = 20;
/** How long the drain waits for clients to answer the close frames before the listeners go. */
const CLOSE_HANDSHAKE_WAIT_MS = 1000;

export interface DrainReport {
  /** Sockets closed at their slot in the spread (endpoints, idle NEA sockets, those whose ceremonies ended). */
  scheduled: number;
  /** NEA sockets closed at drain_timeout with a login or ceremony still open (those end `abandoned`). */
  atTimeout: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * The socket part of a graceful stop, run after readiness turned false. Waits `delayMs` (the load
 * balancer stops sending new connections meanwhile; sockets are served as usual), then gives every
 * socket a random slot in [0, spreadMs] and closes it at that slot with 1012 and a reconnect hint.
 * A socket with work in flight (`busy`: an NEA socket's login or ceremony, an endpoint's tap) closes
 * once that work is done, or at `timeoutMs` after the delay, whichever comes first; the sockets still
 * busy then close together, with hints spread over [0, spreadMs] instead. Once every socket got its
 * close, `stopAccepting` runs: a client that comes back to this replica (no load balancer in front, or
 * one that has not noticed yet) is refused at once rather than welcomed and closed again.
 */
export async function drainSockets(
  registry: ConnectionRegistry,
  busy: (conn: Connection) => boolean,
  timings: DrainTimings,
  opts: { stopAccepting?: () => void; random?: () => number } = {},
): Promise<DrainReport> {
  const random = opts.random ?? Math.random;
  log.info({ sockets: registry.size, ...timings }, 'draining: readiness is false');
  await sleep(timings.delayMs);
  const start = Date.now();
  const timeoutAt = start + timings.timeoutMs;
  const slots = new WeakMap<Connection, number>();
  const closed = new WeakSet<Connection>();
  const report: DrainReport = { scheduled: 0, atTimeout: 0 };
  const close = (conn: Connection, hintMaxMs: number): void => {
    closed.add(conn);
    conn.close(CloseCode.ServiceRestart, encodeReconnectHint(random() * hintMaxMs));
  };
  log.info({ sockets: registry.size }, 'draining: closing sockets');
  for (;;) {
    const now = Date.now();
    let open = 0;
    for (const conn of registry.values()) {
      if (closed.has(conn)) continue;
      let slot = slots.get(conn);
      if (slot === undefined) {
        // Sockets that connect during the drain get a slot too (past slots close at once).
        slot = start + random() * timings.spreadMs;
        slots.set(conn, slot);
      }
      const working = busy(conn);
      if (!working && now >= slot) {
        close(conn, Math.min(timings.spreadMs, SCHEDULED_HINT_MAX_MS));
        report.scheduled++;
      } else if (working && now >= timeoutAt) {
        close(conn, timings.spreadMs);
        report.atTimeout++;
      } else {
        open++;
      }
    }
    if (open === 0) break;
    await sleep(TICK_MS);
  }
  opts.stopAccepting?.();
  const waitUntil = Date.now() + CLOSE_HANDSHAKE_WAIT_MS;
  while (registry.size > 0 && Date.now() < waitUntil) await sleep(TICK_MS);
  log.info({ ...report, ms: Date.now() - start }, 'draining: sockets closed');
  return report;
}
