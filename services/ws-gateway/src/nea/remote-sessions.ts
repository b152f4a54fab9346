import { Inject, Injectable, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import {
  CloseCode,
  ErrorCode,
  KvBuckets,
  REMOTE_CLIENT_NAME_PATTERN,
  TerminalRecord,
  normalizeClientAddress,
} from '@tapgate/contracts';
import { KvCache, type Messaging } from '@tapgate/messaging';
import { createLogger } from '@tapgate/telemetry';
import type { Connection } from '../socket/connection';
import { MESSAGING } from '../tokens';

const log = createLogger('remote-sessions');

export type RemoteSessionResult =
  { ok: true; terminalId: string | undefined } | { ok: false; retry: boolean; message: string };

const addressKey = (address: string) => `a ${address}`;
const nameKey = (name: string) => `n ${name.toUpperCase()}`;

/**
 * RDP/Citrix: maps a remote session's client (address or client name, as a trusted proxy reports it) to
 * the terminal whose `remoteClients` list it (tapgate_terminals, written by the policy API), so an NEA
 * client in that session binds implicitly to the thin client's terminal. Fails closed: while the
 * terminals are loading the binding is refused with "retry", a client that two terminals list is
 * refused, and a socket whose mapping changes after it bound is closed (it reconnects and binds anew).
 */
@Injectable()
export class RemoteSessionMap implements OnModuleInit, OnModuleDestroy {
  private readonly terminals: KvCache<TerminalRecord>;
  /** client key -> terminal ids that list it */
  private readonly index = new Map<string, Set<string>>();
  private readonly keysOf = new Map<string, string[]>();
  /** Sockets bound through a mapping (or through a trusted proxy without one): re-checked on changes. */
  private readonly sockets = new Set<Connection>();

  constructor(@Inject(MESSAGING) messaging: Messaging) {
    this.terminals = new KvCache(messaging, KvBuckets.terminals, TerminalRecord);
    this.terminals.onChange((id, record) => this.changed(id, record));
  }

  onModuleInit(): void {
    this.terminals.start();
  }

  onModuleDestroy(): void {
    this.terminals.stop();
  }

  /**
   * The terminal an implicitly binding NEA socket belongs to. Only sockets that came through a trusted
   * proxy are mapped; for others (and unmapped clients) the binding follows the source address alone.
   */
  resolve(conn: Connection): RemoteSessionResult {
    if (!conn.remoteSession) return { ok: true, terminalId: undefined };
    if (!this.terminals.ready()) {
      return { ok: false, retry: true, message: 'terminal registry not loaded yet; retry' };
    }
    const found = this.lookup(conn);
    if (found.size > 1) {
      return {
        ok: false,
        retry: false,
        message: `remote-session client maps to several terminals (${[...found].sort().join(', ')}); fix remoteClients`,
      };
    }
    return { ok: true, terminalId: found.values().next().value };
  }

  /** Remembers a socket bound through a trusted proxy, so a mapping change reaches it. */
  track(conn: Connection): void {
    if (conn.remoteSession) this.sockets.add(conn);
  }

  release(conn: Connection): void {
    this.sockets.delete(conn);
  }

  private lookup(conn: Connection): Set<string> {
    const keys: string[] = [];
    const address = normalizeClientAddress(conn.address);
    if (address) keys.push(addressKey(address));
    const name = conn.remoteSession?.clientName?.trim();
    // A malformed name matches nothing (it could not have been configured).
    if (name && REMOTE_CLIENT_NAME_PATTERN.test(name)) keys.push(nameKey(name));
    const found = new Set<string>();
    for (const k of keys) for (const t of this.index.get(k) ?? []) found.add(t);
    return found;
  }

  private changed(terminalId: string, record: TerminalRecord | undefined): void {
    for (const k of this.keysOf.get(terminalId) ?? []) {
      const set = this.index.get(k);
      set?.delete(terminalId);
      if (set?.size === 0) this.index.delete(k);
    }
    const keys = [
      ...(record?.remoteClients?.addresses ?? []).map(addressKey),
      ...(record?.remoteClients?.names ?? []).map(nameKey),
    ];
    for (const k of keys) {
      let set = this.index.get(k);
      if (!set) this.index.set(k, (set = new Set()));
      set.add(terminalId);
    }
    if (keys.length > 0) this.keysOf.set(terminalId, keys);
    else this.keysOf.delete(terminalId);

    for (const conn of [...this.sockets]) {
      const now = this.resolve(conn);
      if (now.ok && now.terminalId === conn.binding?.terminalId) continue;
      const why = 'the remote-session mapping of this client changed; reconnect';
      log.info({ address: conn.address, was: conn.binding?.terminalId, terminal: terminalId }, why);
      conn.sendError({ code: ErrorCode.Unauthorized, message: why });
      conn.close(CloseCode.Unauthorized, 'unauthorized');
      this.sockets.delete(conn);
    }
  }
}
