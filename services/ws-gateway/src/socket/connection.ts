import { randomUUID } from 'node:crypto';
import {
  encodeServerFrame,
  type ErrorBody,
  type ServerMessageData,
  type ServerMessageType,
} from '@tapgate/contracts';
import type { WebSocket } from 'ws';
import type { ChallengeStore } from '../endpoints/challenge-store';

export type Interface = 'agent' | 'webapi';
export type Role = 'endpoint' | 'nea';

/** A reply a message handler returns; the adapter serialises and sends it. */
export interface ServerFrame<T extends ServerMessageType = ServerMessageType> {
  type: T;
  data: ServerMessageData<T>;
  ref?: string;
}

export function frame<T extends ServerMessageType>(
  type: T,
  data: ServerMessageData<T>,
  ref?: string,
): ServerFrame<T> {
  return { type, data, ref };
}

export interface SocketLimits {
  maxFrameBytes: number;
  handshakeTimeoutMs: number;
  heartbeatIntervalMs: number;
  rateLimitPerSecond: number;
  rateLimitBurst: number;
  floodCloseAfter: number;
}

export interface NeaBinding {
  mode: 'explicit' | 'implicit';
  /** Explicit: the terminal named in hello. Implicit: the terminal a remote-session mapping chose, if any. */
  terminalId?: string;
  address?: string;
}

/** What a trusted proxy said about a remote session (RDP/Citrix) the socket comes from. */
export interface RemoteSessionClient {
  /** X-Tapgate-Client-Name, when the proxy sent one. */
  clientName?: string;
}

/** Who an NEA socket proved to be: kept so a change to that application can close the socket. */
export interface ApplicationPrincipal {
  applicationId: string;
  /** How: an application credential (which one), an mTLS certificate, or the development setting. */
  via: 'credential' | 'mtls' | 'unauthenticated';
  credentialId?: string;
}

/** A client certificate the TLS layer verified against `cacertfile` (and the CRL, when configured). */
export interface ClientCertificate {
  /** Subject CN: the terminal id it claims. */
  cn: string;
  /** SHA-256 of the DER bytes, lowercase hex: what terminal pins are compared with. */
  sha256: string;
}

/** What an endpoint proved in its hello; re-checked whenever its terminal record changes. */
export interface EndpointEvidence {
  certificate: ClientCertificate | undefined;
  /** SHA-256 (hex) of the credential it presented, never the credential itself. */
  credentialSha256: string | undefined;
}

const OPEN = 1;

/**
 * Everything the gateway knows about one socket. Kept small on purpose: an idle connection's memory
 * is ws's own state plus this object (the goal is <= 10 KB per idle connection in total; docs/operations.md
 * "Benchmark" has the breakdown), so per-socket state is plain fields, not objects made for every socket.
 */
export class Connection {
  readonly id = randomUUID();
  readonly connectedAt: number;
  /**
   * The message budget, a token bucket as two numbers (`rateLimitPerSecond` sustained,
   * `rateLimitBurst` at once): the tokens left at `tokensAt`.
   */
  private tokens: number;
  private tokensAt: number;
  role: Role | undefined;
  terminalId: string | undefined;
  binding: NeaBinding | undefined;
  challenges: ChallengeStore | undefined;
  /** Why a client certificate the client did present failed verification (revoked, foreign CA, expired). */
  clientCertError: string | undefined;
  /** Set when an endpoint's hello was accepted. */
  endpointEvidence: EndpointEvidence | undefined;
  presenceSubscribed = false;
  /** The Origin header of the upgrade request (browsers always send one). */
  origin: string | undefined;
  /** The application an NEA socket authenticated as (explicit binding or a presented credential). */
  application: ApplicationPrincipal | undefined;
  /** The program and version the hello named (endpoint `software`, NEA `app`), for the console. */
  software: { name: string; version: string } | undefined;
  lastSeen: number;
  // Flood accounting: messages dropped by the rate limiter in the current one-second window.
  droppedInWindow = 0;
  dropWindowStart = 0;
  lastRateErrorAt = 0;
  protocolErrors = 0;
  /** Taps of this endpoint socket being decided: a drain closes the socket only once they are answered. */
  tapsInFlight = 0;
  errorWindowStart = 0;
  /** Set only when the socket came through a trusted proxy (docs/protocol.md §4, remote sessions). */
  remoteSession: RemoteSessionClient | undefined;

  constructor(
    readonly socket: WebSocket,
    readonly iface: Interface,
    /** Source address after trusted-proxy resolution. */
    readonly address: string,
    /** A verified client certificate (mTLS), when there is one. */
    readonly clientCert: ClientCertificate | undefined,
    limits: SocketLimits,
    now: number,
  ) {
    this.connectedAt = now;
    this.lastSeen = now;
    this.tokens = limits.rateLimitBurst;
    this.tokensAt = now;
  }

  /**
   * Takes one message from the socket's budget; false when it is spent. Checked before a frame is
   * parsed, so a flooding client costs a counter update per frame, not a JSON parse.
   */
  takeToken(limits: Pick<SocketLimits, 'rateLimitPerSecond' | 'rateLimitBurst'>, now: number): boolean {
    const elapsed = now - this.tokensAt;
    if (elapsed > 0) {
      this.tokens = Math.min(
        limits.rateLimitBurst,
        this.tokens + (elapsed * limits.rateLimitPerSecond) / 1000,
      );
      this.tokensAt = now;
    }
    if (this.tokens >= 1) {
      this.tokens -= 1;
      return true;
    }
    return false;
  }

  /** Subject CN of a verified client certificate, when there is one. */
  get clientCertCn(): string | undefined {
    return this.clientCert?.cn;
  }

  get open(): boolean {
    return this.socket.readyState === OPEN;
  }

  send<T extends ServerMessageType>(type: T, data: ServerMessageData<T>, ref?: string): void {
    if (this.open) this.socket.send(encodeServerFrame(type, data, ref));
  }

  sendFrame(f: ServerFrame): void {
    if (this.open) this.socket.send(encodeServerFrame(f.type, f.data, f.ref));
  }

  sendError(error: ErrorBody, ref?: string): void {
    this.send('error', error, ref);
  }

  close(code: number, reason: string): void {
    if (this.socket.readyState <= OPEN) this.socket.close(code, reason);
  }
}
