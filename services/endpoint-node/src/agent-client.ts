import { EventEmitter } from 'node:events';
import { randomUUID } from 'node:crypto';
import {
  CloseCode,
  HEARTBEAT_DEADLINE_INTERVALS,
  decodeServerFrame,
  encodeClientFrame,
  parseReconnectHint,
  type Advert,
  type Challenge,
  type ClientMessageData,
  type EnrollExpect,
  type EnrollResult,
  type ClientMessageType,
  type ServerMessage,
  type TapKind,
  type TapProof,
  type TapResult,
} from '@tapgate/contracts';
import type { EnrollmentAnswer } from '@tapgate/band';
import { createLogger } from '@tapgate/telemetry';
import WebSocket from 'ws';
import { Backoff, type AttemptFailure } from './backoff';
import type { BandSigner } from './drivers/driver';

const log = createLogger('agent-client');

/** This program as its package.json names it (one source for the version the console shows). */
export const ENDPOINT_SOFTWARE: { name: string; version: string } = (() => {
  // require, not a file read: the packaged executables (esbuild bundle) carry package.json inside.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const pkg = require('../package.json') as { version?: unknown };
  const version = typeof pkg.version === 'string' ? pkg.version.slice(0, 32) : 'unknown';
  return { name: 'tapgate-endpoint-node', version };
})();

export interface AgentClientOptions {
  url: string;
  terminalId: string;
  credential?: string;
  /** PEM CA bundle to trust for wss. */
  ca?: string;
  /** Client certificate and key (PEM) for mTLS; the gateway admits it for a registered terminal whose id is its CN. */
  clientCertificate?: { cert: string; key: string };
  /** What the hello reports as the endpoint's program and version; default: this package's. */
  software?: { name: string; version: string };
  capabilities?: Array<'nfc' | 'ble' | 'simulated'>;
  /** How long to wait for a tap result before giving up on it. */
  tapTimeoutMs?: number;
  backoff?: Backoff;
}

/** What a driver supplies for a tap: who tapped, and how to sign the gateway's challenge. */
export interface TapRequest {
  kind: TapKind;
  bandId?: string;
  uid?: string;
  /**
   * Signs the challenge for this terminal; undefined = the band did not answer; a rejection = the band's
   * answer failed (card pulled, garbled answer), with the reason.
   */
  sign?: BandSigner;
}

/**
 * What a driver supplies for an enrollment tap: a badge UID, or a band that presents its id and key and
 * signs the enrollment proof over the gateway's challenge and the session id.
 */
export type EnrollTapRequest =
  | { uid: string }
  | { answer: (challenge: string, terminalId: string, sessionId: string) => EnrollmentAnswer | undefined };

/** Refusals after which the session is over for this terminal: later taps are ordinary taps again. */
const SESSION_OVER = new Set<string>(['no_session', 'session_expired', 'session_cancelled', 'session_used']);

export class TapError extends Error {
  override readonly name = 'TapError';
}

interface Pending {
  resolve(frame: ServerMessage): void;
  reject(e: Error): void;
  timer: NodeJS.Timeout;
}

/** Close codes after which reconnecting with the same credentials cannot help. */
const FATAL_CLOSE_CODES = new Set<number>([CloseCode.Unauthorized, CloseCode.Revoked]);

/**
 * The endpoint's one outbound socket to a gateway: handshake, heartbeats, challenges, taps, adverts,
 * and reconnection with jittered exponential backoff (or after the delay a draining gateway hinted). Emits 'connected', 'disconnected' (code, reason),
 * and 'unauthorized' events.
 */
export class AgentClient extends EventEmitter {
  private ws: WebSocket | undefined;
  private heartbeat: NodeJS.Timeout | undefined;
  /** When the current socket last received a frame (any frame is a sign of the gateway's life). */
  private lastFrameAt = 0;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private challenge: { value: string; expiresAt: number } | undefined;
  private readonly pending = new Map<string, Pending>();
  private readonly backoff: Backoff;
  private stopped = false;
  private ready = false;
  private tapChain: Promise<unknown> = Promise.resolve();
  /** The enrollment session the gateway armed this terminal for (enroll.expect), until it ends. */
  private expecting: (EnrollExpect & { until: number }) | undefined;

  constructor(private readonly opts: AgentClientOptions) {
    super();
    this.backoff = opts.backoff ?? new Backoff();
  }

  get connected(): boolean {
    return this.ready;
  }

  start(): void {
    this.stopped = false;
    this.connect();
  }

  private connect(): void {
    const ws = new WebSocket(this.opts.url, {
      ca: this.opts.ca,
      ...(this.opts.clientCertificate ?? {}),
      handshakeTimeout: 10_000,
      minVersion: 'TLSv1.2',
    });
    this.ws = ws;
    ws.on('open', () => {
      this.send(
        'hello',
        {
          role: 'endpoint',
          terminalId: this.opts.terminalId,
          credential: this.opts.credential,
          software: this.opts.software ?? ENDPOINT_SOFTWARE,
          capabilities: this.opts.capabilities,
        },
        'hello',
      );
    });
    ws.on('message', (data: Buffer) => {
      if (ws === this.ws) this.lastFrameAt = Date.now();
      this.onFrame(data.toString('utf8'));
    });
    // Nothing listening at the address (the gateway is restarting): the backoff keeps such retries
    // quick for a while, since refusing costs the gateway nothing (backoff.ts).
    let failure: AttemptFailure = 'other';
    // No 'error' event: an EventEmitter 'error' without a listener would crash the endpoint, and
    // every socket error is followed by 'close', which reconnects.
    ws.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'ECONNREFUSED') failure = 'refused';
      log.debug({ err: err.message }, 'socket error');
    });
    ws.on('close', (code, reasonBuf) => this.onClose(ws, code, reasonBuf.toString(), failure));
  }

  private onFrame(text: string): void {
    const msg = decodeServerFrame(text);
    if (msg instanceof Error) {
      log.warn({ err: msg.message }, 'ignored invalid frame from the gateway');
      return;
    }
    switch (msg.type) {
      case 'welcome':
        this.ready = true;
        this.backoff.reset();
        if (msg.data.challenge) this.setChallenge(msg.data.challenge);
        this.startHeartbeat(msg.data.heartbeatIntervalMs);
        log.info({ terminal: this.opts.terminalId, url: this.opts.url }, 'connected to gateway');
        this.emit('connected', msg.data);
        break;
      case 'challenge':
        this.setChallenge(msg.data);
        break;
      case 'tap.result':
        if (msg.data.challenge) this.setChallenge(msg.data.challenge);
        break;
      case 'enroll.expect':
        this.expecting = { ...msg.data, until: Date.parse(msg.data.expiresAt) };
        log.info({ until: msg.data.expiresAt, accept: msg.data.accept }, 'expecting an enrollment tap');
        this.emit('enrollment', this.enrollment);
        break;
      case 'enroll.end':
        if (this.expecting?.sessionId === msg.data.sessionId) this.expecting = undefined;
        log.info({ state: msg.data.state }, 'enrollment session ended');
        this.emit('enrollment', undefined);
        break;
      case 'enroll.result':
        if (msg.data.challenge) this.setChallenge(msg.data.challenge);
        break;
      case 'error':
        log.warn(
          { code: msg.data.code, message: msg.data.message, ref: msg.ref },
          'gateway reported an error',
        );
        break;
      case 'pong':
      case 'tap':
      case 'presence':
      case 'login.pending':
      case 'login.result':
      case 'esign.opened':
      case 'esign.signature':
      case 'esign.closed':
        // NEA messages: never sent to an endpoint socket.
        break;
    }
    if (msg.ref) {
      const p = this.pending.get(msg.ref);
      if (p) {
        this.pending.delete(msg.ref);
        clearTimeout(p.timer);
        p.resolve(msg);
      }
    }
  }

  /** The enrollment session this terminal's next tap enrolls for, while it lasts. */
  get enrollment(): EnrollExpect | undefined {
    if (this.expecting && this.expecting.until <= Date.now()) this.expecting = undefined;
    if (!this.expecting) return undefined;
    const { until: _until, ...session } = this.expecting;
    return session;
  }

  private setChallenge(c: Challenge): void {
    this.challenge = { value: c.challenge, expiresAt: Date.parse(c.expiresAt) };
  }

  /**
   * Pings every interval, and gives up on a gateway silent for 2.5 intervals (the rule the gateway applies
   * to its clients, close code 4002): a gateway cut off from the network, or a half-open TCP connection,
   * would otherwise look connected until the link returns, and taps would wait on it. Terminating the
   * socket reconnects through the usual path (backoff, the load balancer's choice of a ready replica).
   */
  private startHeartbeat(intervalMs: number): void {
    clearInterval(this.heartbeat);
    const ws = this.ws;
    this.lastFrameAt = Date.now();
    this.heartbeat = setInterval(() => {
      const silentMs = Date.now() - this.lastFrameAt;
      if (ws && ws === this.ws && silentMs > intervalMs * HEARTBEAT_DEADLINE_INTERVALS) {
        log.warn({ silentMs, url: this.opts.url }, 'the gateway fell silent; reconnecting');
        clearInterval(this.heartbeat);
        // terminate, not close: a close handshake would wait for the silent peer. 'close' follows at once.
        ws.terminate();
        return;
      }
      this.send('ping', undefined);
    }, intervalMs);
    this.heartbeat.unref();
  }

  private onClose(ws: WebSocket, code: number, reason: string, failure: AttemptFailure): void {
    if (ws !== this.ws) return;
    const wasReady = this.ready;
    this.ready = false;
    this.challenge = undefined;
    clearInterval(this.heartbeat);
    for (const [ref, p] of this.pending) {
      clearTimeout(p.timer);
      p.reject(new TapError(`connection closed (${code}) before the answer to ${ref}`));
    }
    this.pending.clear();
    if (wasReady) log.warn({ code, reason }, 'disconnected from gateway');
    this.emit('disconnected', code, reason);
    if (this.stopped) return;
    if (FATAL_CLOSE_CODES.has(code)) {
      log.error(
        { code, reason },
        "gateway refused or revoked this terminal's access; check credential_file and the terminal's record",
      );
      this.emit('unauthorized', reason);
    }
    // A draining gateway (1012) says when to come back: its closes are spread so that thousands of
    // terminals do not reconnect at once, and the next replica is ready; so does a gateway that is not
    // ready yet (1013), spreading the retries over its start-up. Otherwise, and even after 4001/4003,
    // keep retrying (slowly, via backoff): an administrator may fix the credential.
    const hinted = parseReconnectHint(code, reason);
    if (hinted !== undefined) this.backoff.reset();
    const delay = hinted ?? this.backoff.next(failure);
    if (hinted !== undefined) {
      log.info({ code, reconnectAfterMs: hinted }, 'gateway asked to reconnect later; reconnecting');
    }
    this.reconnectTimer = setTimeout(() => this.connect(), delay);
  }

  private send<T extends ClientMessageType>(type: T, data: ClientMessageData<T>, ref?: string): boolean {
    if (!this.ws || this.ws.readyState !== WebSocket.OPEN) return false;
    this.ws.send(encodeClientFrame(type, data, ref));
    return true;
  }

  private request(ref: string, timeoutMs: number, sendIt: () => boolean): Promise<ServerMessage> {
    return new Promise((resolve, reject) => {
      if (!this.ready || !sendIt()) {
        reject(new TapError('not connected to the gateway'));
        return;
      }
      const timer = setTimeout(() => {
        this.pending.delete(ref);
        reject(new TapError('the gateway did not answer in time'));
      }, timeoutMs);
      this.pending.set(ref, { resolve, reject, timer });
    });
  }

  /** A valid challenge, asking the gateway for a fresh one when the current one is about to expire. */
  private async freshChallenge(): Promise<string> {
    if (this.challenge && this.challenge.expiresAt - Date.now() > 1000) {
      const c = this.challenge.value;
      this.challenge = undefined; // single use
      return c;
    }
    // Each request has its own ref (the gateway echoes it), so no two callers ever share an answer.
    const ref = `challenge-${randomUUID()}`;
    const reply = await this.request(ref, 5000, () => this.send('challenge.request', undefined, ref));
    if (reply.type !== 'challenge') throw new TapError('expected a challenge');
    this.challenge = undefined;
    return reply.data.challenge;
  }

  /**
   * Sends one tap and resolves with the gateway's decision for it. Taps go one at a time, in order:
   * a second tap waits for the first one's answer (so each takes its own fresh challenge and the
   * gateway sees them in the order they happened).
   */
  tap(req: TapRequest): Promise<TapResult> {
    const run = this.tapChain.then(() => this.tapNow(req));
    this.tapChain = run.catch(() => undefined);
    return run;
  }

  private async tapNow(req: TapRequest): Promise<TapResult> {
    let proof: TapProof | undefined;
    if (req.sign) {
      const challenge = await this.freshChallenge();
      try {
        proof = await req.sign(challenge, this.opts.terminalId);
      } catch (e) {
        if (e instanceof TapError) throw e;
        throw new TapError(`the band's answer failed: ${(e as Error).message}`);
      }
      if (!proof) throw new TapError('the band did not answer (is it authenticated?)');
    }
    const tapId = randomUUID();
    const ref = `tap-${tapId}`;
    const reply = await this.request(ref, this.opts.tapTimeoutMs ?? 10_000, () =>
      this.send(
        'tap',
        { tapId, kind: req.kind, bandId: req.bandId, uid: req.uid, proof, at: new Date().toISOString() },
        ref,
      ),
    );
    if (reply.type === 'error') throw new TapError(`${reply.data.code}: ${reply.data.message}`);
    if (reply.type !== 'tap.result') throw new TapError(`unexpected ${reply.type}`);
    return reply.data;
  }

  /**
   * Sends an enrollment tap for the armed session and resolves with the gateway's answer. Queued with
   * ordinary taps, so each takes its own fresh challenge.
   */
  enrollTap(req: EnrollTapRequest): Promise<EnrollResult> {
    const run = this.tapChain.then(() => this.enrollNow(req));
    this.tapChain = run.catch(() => undefined);
    return run;
  }

  private async enrollNow(req: EnrollTapRequest): Promise<EnrollResult> {
    const session = this.enrollment;
    if (!session) throw new TapError('this terminal is not expecting an enrollment tap');
    const tapId = randomUUID();
    const at = new Date().toISOString();
    let data: ClientMessageData<'enroll.tap'>;
    if ('uid' in req) {
      data = { tapId, sessionId: session.sessionId, kind: 'nfc', uid: req.uid, at };
    } else {
      const challenge = await this.freshChallenge();
      const answer = req.answer(challenge, this.opts.terminalId, session.sessionId);
      if (!answer) throw new TapError('the band did not answer the enrollment');
      data = { tapId, sessionId: session.sessionId, kind: 'nfc', ...answer, at };
    }
    const ref = `enroll-${tapId}`;
    const reply = await this.request(ref, this.opts.tapTimeoutMs ?? 10_000, () =>
      this.send('enroll.tap', data, ref),
    );
    if (reply.type === 'error') throw new TapError(`${reply.data.code}: ${reply.data.message}`);
    if (reply.type !== 'enroll.result') throw new TapError(`unexpected ${reply.type}`);
    const over = reply.data.outcome === 'enrolled' || SESSION_OVER.has(reply.data.reason ?? '');
    if (over && this.expecting?.sessionId === session.sessionId) {
      this.expecting = undefined;
      this.emit('enrollment', undefined);
    }
    return reply.data;
  }

  /** Relays BLE adverts; returns false when not connected (adverts are then dropped: they are soft state). */
  adverts(adverts: Advert[]): boolean {
    return this.ready && this.send('adverts', { adverts });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.reconnectTimer);
    clearInterval(this.heartbeat);
    const ws = this.ws;
    if (!ws || ws.readyState === WebSocket.CLOSED) return;
    await new Promise<void>((resolve) => {
      ws.once('close', () => resolve());
      ws.close(1000, 'endpoint stopping');
      setTimeout(() => {
        ws.terminate();
        resolve();
      }, 2000).unref();
    });
  }
}
