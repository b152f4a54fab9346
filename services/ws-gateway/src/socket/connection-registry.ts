import { CloseCode, HEARTBEAT_DEADLINE_INTERVALS } from '@tapgate/contracts';
import { createLogger } from '@tapgate/telemetry';
import type { GatewayMetrics } from '../metrics';
import type { Connection, Role, SocketLimits } from './connection';

const log = createLogger('connections');

/** Push a fresh challenge when the newest one expires within this margin. */
const CHALLENGE_REFRESH_MARGIN_MS = 10_000;

/**
 * All sockets of this replica. One timer sweeps them every second for handshake and heartbeat
 * deadlines (cheaper than a timer per socket at 20,000 sockets) and refreshes endpoint challenges.
 */
export class ConnectionRegistry {
  private readonly all = new Set<Connection>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly limits: SocketLimits,
    private readonly metrics: GatewayMetrics,
  ) {}

  add(conn: Connection): void {
    this.all.add(conn);
    this.metrics.connections.add(1, { kind: 'pending' });
  }

  /** Records the role a connection took in its handshake (for the open-connections gauge). */
  promote(conn: Connection, role: Role): void {
    conn.role = role;
    this.metrics.connections.add(-1, { kind: 'pending' });
    this.metrics.connections.add(1, { kind: role });
  }

  remove(conn: Connection): void {
    if (!this.all.delete(conn)) return;
    this.metrics.connections.add(-1, { kind: conn.role ?? 'pending' });
  }

  get size(): number {
    return this.all.size;
  }

  /** Every socket of this replica, in no particular order. */
  values(): IterableIterator<Connection> {
    return this.all.values();
  }

  start(): void {
    this.timer = setInterval(() => this.sweep(Date.now()), 1000);
    this.timer.unref();
  }

  sweep(now: number): void {
    const deadAfter = this.limits.heartbeatIntervalMs * HEARTBEAT_DEADLINE_INTERVALS;
    for (const conn of this.all) {
      if (!conn.role) {
        // The deadline is derived, not stored: a double per socket is a heap number of its own.
        if (now > conn.connectedAt + this.limits.handshakeTimeoutMs) {
          this.metrics.socketErrors.add(1, { code: 'handshake_timeout' });
          conn.close(CloseCode.HandshakeTimeout, 'handshake timeout');
        }
        continue;
      }
      if (now - conn.lastSeen > deadAfter) {
        this.metrics.socketErrors.add(1, { code: 'heartbeat_timeout' });
        conn.close(CloseCode.HeartbeatTimeout, 'heartbeat timeout');
        continue;
      }
      if (conn.challenges?.needsRefresh(now, CHALLENGE_REFRESH_MARGIN_MS)) {
        conn.send('challenge', conn.challenges.issue(now));
      }
    }
  }

  /** Closes every socket with "going away" so clients reconnect to another replica. */
  closeAll(reason: string): void {
    if (this.timer) clearInterval(this.timer);
    log.info({ sockets: this.all.size }, 'closing all sockets');
    for (const conn of this.all) conn.close(CloseCode.GoingAway, reason);
  }
}
