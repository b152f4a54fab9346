import { CeremonyState, type Ceremony } from './ceremony.js';
import { Emitter } from './emitter.js';
import { TapgateError } from './errors.js';
import { parseReconnectHint } from './reconnect-hint.js';
import {
  TERMINAL_ID_PATTERN,
  encodeFrame,
  parseServerFrame,
  type Binding,
  type ClientFrames,
  type EsignOpen,
  type LoginPending,
  type LoginRequest,
  type LoginResult,
  type PresenceEvent,
  type ServerFrame,
  type TapEvent,
} from './frames.js';

/** The texts of Nymi's guide, shown by POMSnet's login page. */
export const CONNECTED_MESSAGE = 'Connected to authentication service. Tap device on NFC reader.';
export const DISCONNECTED_MESSAGE = 'Disconnected from authentication service. Enter userid and password.';

/** The part of the WHATWG WebSocket the client uses (browsers, Node 22+, or the `ws` package). */
export interface SocketLike {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  onopen: ((ev: unknown) => void) | null;
  onmessage: ((ev: { data: unknown }) => void) | null;
  onclose: ((ev: { code: number; reason: string }) => void) | null;
  onerror: ((ev: unknown) => void) | null;
}
export type SocketConstructor = new (url: string) => SocketLike;

export interface TapgateClientOptions {
  /** POMSnet's BiometricAuthenticationHost. */
  host: string;
  /** BiometricAuthenticationPort (9120 for the standard interface, 4443 for the WebAPI). */
  port: number | string;
  /** BiometricAuthenticationProtocol. */
  protocol: 'ws' | 'wss';
  /** BiometricAuthenticationAuthURL, sent in hello (recorded, and the default assertion audience). */
  authUrl?: string;
  /** BiometricAuthenticationDebug: log every step to the console. */
  debug?: boolean;
  /** Bind to this terminal explicitly; omit to bind to the endpoint on the same machine. */
  terminal?: string;
  /**
   * Application credential for explicit binding (issued in the policy API, docs/nea-sdk.md). Anyone who
   * can read the page can read it: prefer implicit binding in browsers and keep credentials on servers.
   */
  credential?: string;
  /** Identifies the application in hello (and in the audit trail). */
  app?: { name: string; version: string };
  /**
   * Reconnect backoff: a random delay in [0, min(maxDelayMs, initialDelayMs * 2^attempt)]. After a
   * close with a reconnect hint (1012, a draining gateway) the hinted delay is used instead.
   */
  reconnect?: { initialDelayMs?: number; maxDelayMs?: number };
  /** How long to wait for `welcome` after the socket opened. Default 10 s. */
  handshakeTimeoutMs?: number;
  /** A WebSocket implementation; default globalThis.WebSocket. */
  WebSocket?: SocketConstructor;
}

export type ConnectionState = 'idle' | 'connecting' | 'connected' | 'disconnected' | 'closed';

export interface ClientEvents {
  /** `protocolMinor`: the gateway's protocol minor version (0 for gateways that do not say). */
  connected: { message: string; sessionId: string; protocolMinor: number; binding?: Binding };
  disconnected: { message: string; code?: number; reason?: string; willReconnect: boolean };
  /** Every tap on the bound terminal, granted or refused. */
  tap: TapEvent;
  presence: PresenceEvent;
  /** A login request is waiting for a tap. */
  'login.pending': LoginPending;
  /** An `error` frame not tied to an operation (e.g. rate_limited). */
  error: { code: string; message: string };
}

interface ActiveLogin {
  ref: string;
  requestId?: string;
  resolve(r: LoginResult): void;
  reject(e: Error): void;
  guard: ReturnType<typeof setTimeout>;
  cancelRef?: string;
}

type Timer = ReturnType<typeof setTimeout>;

const OPEN = 1;
/** A gateway silent for this many heartbeat intervals is dead (a copy; contracts.test.ts checks it). */
export const HEARTBEAT_DEADLINE_INTERVALS = 2.5;

/** Shortens bearer tokens in debug output: assertions are credentials until they expire. */
function redact(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(redact);
  if (typeof value !== 'object' || value === null) return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    if (k === 'assertion' && typeof v === 'string') {
      out[k] = `${v.slice(0, 12)}…`;
    } else if (k === 'assertions' && Array.isArray(v)) {
      out[k] = (v as unknown[]).map((a) => (typeof a === 'string' ? `${a.slice(0, 12)}…` : a));
    } else {
      out[k] = redact(v);
    }
  }
  return out;
}

/**
 * Connects a web NEA (a login page, an e-signature dialog) to Tapgate: hello, heartbeats, automatic
 * reconnects, and typed promises for login and e-signature ceremonies.
 */
export class TapgateClient extends Emitter<ClientEvents> {
  readonly url: string;
  private readonly opts: TapgateClientOptions;
  private socket: SocketLike | undefined;
  private stateValue: ConnectionState = 'idle';
  private announced: 'connected' | 'disconnected' | undefined;
  private attempt = 0;
  private refCounter = 0;
  private heartbeatMs = 15_000;
  private lastFrameAt = 0;
  private heartbeatTimer: Timer | undefined;
  private handshakeTimer: Timer | undefined;
  private reconnectTimer: Timer | undefined;
  private login_: ActiveLogin | undefined;
  private readonly ceremonies = new Set<CeremonyState>();
  private presenceWanted = false;

  constructor(options: TapgateClientOptions) {
    super();
    const port = typeof options.port === 'string' ? Number(options.port.trim()) : options.port;
    if (typeof options.host !== 'string' || !/^[A-Za-z0-9._:[\]-]+$/.test(options.host)) {
      throw new TypeError('host must be a host name or IP address (no scheme, no path)');
    }
    if (!Number.isInteger(port) || port < 1 || port > 65535) throw new TypeError('port must be 1-65535');
    if (options.protocol !== 'ws' && options.protocol !== 'wss') {
      throw new TypeError('protocol must be "ws" or "wss"');
    }
    if (options.terminal !== undefined && !TERMINAL_ID_PATTERN.test(options.terminal)) {
      throw new TypeError('terminal must be 1-64 of A-Z a-z 0-9 _ -');
    }
    if (
      options.credential !== undefined &&
      (options.credential.length < 1 || options.credential.length > 512)
    ) {
      throw new TypeError('credential must be 1-512 characters');
    }
    if (options.authUrl !== undefined && options.authUrl.length > 2048) {
      throw new TypeError('authUrl is too long');
    }
    this.opts = { ...options, port };
    const host =
      options.host.includes(':') && !options.host.startsWith('[') ? `[${options.host}]` : options.host;
    this.url = `${options.protocol}://${host}:${port}/`;
  }

  get state(): ConnectionState {
    return this.stateValue;
  }

  /** True once `welcome` arrived on the current socket. */
  get connected(): boolean {
    return this.stateValue === 'connected';
  }

  /** Starts connecting (and reconnecting, until close()). Calling it again does nothing. */
  connect(): void {
    if (this.stateValue === 'closed') throw new TapgateError('closed', 'this client was closed');
    if (this.stateValue !== 'idle') return;
    this.open();
  }

  /** Closes the socket and stops reconnecting; pending operations reject with `closed`. */
  close(): void {
    if (this.stateValue === 'closed') return;
    const wasConnected = this.announced === 'connected';
    this.stateValue = 'closed';
    clearTimeout(this.reconnectTimer);
    this.teardownSocket(1000, 'client closed');
    this.failOperations(new TapgateError('closed', 'the client was closed'));
    if (wasConnected) this.emit('disconnected', { message: DISCONNECTED_MESSAGE, willReconnect: false });
    this.log('closed');
  }

  /**
   * Asks for a login tap. Resolves with the result (granted with an assertion, refused with the reason,
   * expired, cancelled); rejects with TapgateError when disconnected or on a protocol error.
   */
  login(request: LoginRequest = {}): Promise<LoginResult> {
    if (!this.connected) return Promise.reject(new TapgateError('disconnected', DISCONNECTED_MESSAGE));
    if (this.login_) {
      return Promise.reject(new TapgateError('conflict', 'a login is already waiting for a tap'));
    }
    const ref = this.nextRef('l');
    return new Promise<LoginResult>((resolve, reject) => {
      const waitMs = (request.timeoutMs ?? 60_000) + 10_000;
      // The server ends the request at timeoutMs; this only guards against a result that never comes.
      const guard = setTimeout(() => {
        this.settleLogin(undefined, new TapgateError('timeout', 'no login result from the server'));
        this.sendFrame('login.cancel', undefined, this.nextRef('lc'));
      }, waitMs);
      this.login_ = { ref, resolve, reject, guard };
      this.sendFrame('login.request', request, ref);
    });
  }

  /** Cancels the waiting login; its promise resolves with outcome "cancelled". False when none waits. */
  cancelLogin(): boolean {
    const login = this.login_;
    if (!login || !this.connected) return false;
    login.cancelRef = this.nextRef('lc');
    this.sendFrame('login.cancel', undefined, login.cancelRef);
    return true;
  }

  /** Opens an e-signature ceremony: one or two signers tap, each gets an assertion. */
  esign(request: EsignOpen): Ceremony {
    const ref = this.nextRef('e');
    const ceremony = new CeremonyState(ref, (ceremonyId) =>
      this.sendFrame('esign.cancel', { ceremonyId }, this.nextRef('ec')),
    );
    if (!this.connected) {
      ceremony.fail(new TapgateError('disconnected', DISCONNECTED_MESSAGE));
      return ceremony;
    }
    this.ceremonies.add(ceremony);
    void ceremony.done.then(
      () => this.ceremonies.delete(ceremony),
      () => this.ceremonies.delete(ceremony),
    );
    this.sendFrame('esign.open', request, ref);
    return ceremony;
  }

  /** Receives `presence` events for the bound terminal (explicit binding only); kept across reconnects. */
  subscribePresence(): void {
    this.presenceWanted = true;
    if (this.connected) this.sendFrame('presence.subscribe', undefined, this.nextRef('s'));
  }

  // ----- connection ---------------------------------------------------------------------------------

  private open(): void {
    this.stateValue = 'connecting';
    const Ctor =
      this.opts.WebSocket ?? (globalThis as unknown as { WebSocket?: SocketConstructor }).WebSocket;
    if (!Ctor) throw new TapgateError('unsupported', 'no WebSocket implementation (pass options.WebSocket)');
    this.log('connecting', { url: this.url, attempt: this.attempt });
    let socket: SocketLike;
    try {
      socket = new Ctor(this.url);
    } catch (e) {
      this.lost(undefined, e instanceof Error ? e.message : String(e));
      return;
    }
    this.socket = socket;
    socket.onopen = () => {
      if (socket !== this.socket) return;
      this.log('socket open; sending hello');
      const hello: ClientFrames['hello'] = { role: 'nea' };
      if (this.opts.terminal !== undefined) hello.terminalId = this.opts.terminal;
      if (this.opts.credential !== undefined) hello.credential = this.opts.credential;
      if (this.opts.app !== undefined) hello.app = this.opts.app;
      if (this.opts.authUrl !== undefined) hello.authUrl = this.opts.authUrl;
      this.sendFrame('hello', hello, 'hello');
      this.handshakeTimer = setTimeout(() => {
        this.log('no welcome in time');
        this.teardownSocket(1000, 'handshake timeout');
        this.lost(undefined, 'handshake timeout');
      }, this.opts.handshakeTimeoutMs ?? 10_000);
    };
    socket.onmessage = (ev) => {
      if (socket === this.socket) this.receive(ev.data);
    };
    socket.onerror = () => {
      if (socket === this.socket) this.log('socket error');
    };
    socket.onclose = (ev) => {
      if (socket !== this.socket) return;
      this.socket = undefined;
      this.lost(ev.code, ev.reason);
    };
  }

  /** The socket is gone (closed, failed to open, or silent): fail operations, tell the page, retry. */
  private lost(code: number | undefined, reason: string | undefined): void {
    this.clearSocketTimers();
    this.socket = undefined;
    if (this.stateValue === 'closed') return;
    this.stateValue = 'disconnected';
    this.failOperations(new TapgateError('disconnected', DISCONNECTED_MESSAGE));
    const { initialDelayMs = 250, maxDelayMs = 30_000 } = this.opts.reconnect ?? {};
    // A draining gateway (1012), or one not ready yet (1013), says when to come back (it spreads its
    // clients' reconnects itself); otherwise full jitter, so that every page of a plant does not
    // reconnect in the same instant.
    const hinted = parseReconnectHint(code, reason);
    let delay: number;
    if (hinted !== undefined) {
      delay = hinted;
      this.attempt = 0;
    } else {
      delay = Math.floor(Math.random() * Math.min(maxDelayMs, initialDelayMs * 2 ** this.attempt));
      this.attempt = Math.min(this.attempt + 1, 30);
    }
    this.log('disconnected', { code, reason, reconnectInMs: delay });
    if (this.announced !== 'disconnected') {
      this.announced = 'disconnected';
      this.emit('disconnected', { message: DISCONNECTED_MESSAGE, code, reason, willReconnect: true });
    }
    this.reconnectTimer = setTimeout(() => {
      if (this.stateValue === 'disconnected') this.open();
    }, delay);
  }

  private teardownSocket(code: number, reason: string): void {
    const socket = this.socket;
    this.socket = undefined;
    this.clearSocketTimers();
    if (!socket) return;
    socket.onopen = socket.onmessage = socket.onclose = socket.onerror = null;
    try {
      socket.close(code, reason);
    } catch {
      // already closing
    }
  }

  private clearSocketTimers(): void {
    clearTimeout(this.handshakeTimer);
    clearInterval(this.heartbeatTimer);
    this.handshakeTimer = this.heartbeatTimer = undefined;
  }

  private startHeartbeats(intervalMs: number): void {
    this.heartbeatMs = intervalMs;
    this.lastFrameAt = Date.now();
    this.heartbeatTimer = setInterval(() => {
      // Any frame is a sign of life; 2.5 intervals of silence mean the connection is dead (a half-open
      // TCP connection would otherwise look connected for minutes).
      if (Date.now() - this.lastFrameAt > this.heartbeatMs * HEARTBEAT_DEADLINE_INTERVALS) {
        this.log('heartbeat timeout');
        this.teardownSocket(1000, 'heartbeat timeout');
        this.lost(undefined, 'heartbeat timeout');
        return;
      }
      this.sendFrame('ping', undefined, this.nextRef('p'));
    }, intervalMs);
  }

  // ----- frames -------------------------------------------------------------------------------------

  private nextRef(prefix: string): string {
    this.refCounter = (this.refCounter + 1) % 1e9;
    return `${prefix}${this.refCounter}`;
  }

  private sendFrame<T extends keyof ClientFrames>(type: T, data: ClientFrames[T], ref?: string): void {
    const socket = this.socket;
    if (!socket || socket.readyState !== OPEN) return;
    if (type !== 'ping') this.log(`send ${type}`, redact(data));
    try {
      socket.send(encodeFrame(type, data, ref));
    } catch (e) {
      this.log('send failed', e instanceof Error ? e.message : e);
    }
  }

  private receive(text: unknown): void {
    this.lastFrameAt = Date.now();
    const frame = parseServerFrame(text);
    if ('ignored' in frame) {
      this.log('ignored a server frame', frame.ignored);
      return;
    }
    if (frame.type !== 'pong') this.log(`received ${frame.type}`, redact(frame.data));
    this.dispatch(frame);
  }

  private dispatch(frame: ServerFrame): void {
    switch (frame.type) {
      case 'welcome': {
        if (this.stateValue !== 'connecting') return;
        clearTimeout(this.handshakeTimer);
        this.stateValue = 'connected';
        this.attempt = 0;
        this.announced = 'connected';
        this.startHeartbeats(frame.data.heartbeatIntervalMs);
        this.emit('connected', {
          message: CONNECTED_MESSAGE,
          sessionId: frame.data.sessionId,
          protocolMinor: frame.data.protocolMinor ?? 0,
          ...(frame.data.binding ? { binding: frame.data.binding } : {}),
        });
        if (this.presenceWanted) this.sendFrame('presence.subscribe', undefined, this.nextRef('s'));
        return;
      }
      case 'pong':
        return;
      case 'tap':
        this.emit('tap', frame.data);
        return;
      case 'presence':
        this.emit('presence', frame.data);
        return;
      case 'login.pending': {
        const login = this.login_;
        if (login && (frame.ref === undefined || frame.ref === login.ref)) {
          login.requestId = frame.data.requestId;
          this.emit('login.pending', frame.data);
        }
        return;
      }
      case 'login.result': {
        const login = this.login_;
        if (!login) return;
        const mine =
          frame.ref === login.ref ||
          (login.requestId !== undefined && frame.data.requestId === login.requestId) ||
          (login.requestId === undefined && frame.ref === undefined);
        if (mine) this.settleLogin(frame.data);
        return;
      }
      case 'esign.opened': {
        const c =
          [...this.ceremonies].find((x) => x.ref === frame.ref) ??
          (frame.ref === undefined ? [...this.ceremonies].find((x) => x.id === undefined) : undefined);
        c?.markOpened(frame.data);
        return;
      }
      case 'esign.signature':
        this.ceremonyById(frame.data.ceremonyId)?.addSignature(frame.data);
        return;
      case 'esign.closed':
        this.ceremonyById(frame.data.ceremonyId)?.close(frame.data);
        return;
      case 'error':
        this.onServerError(frame.ref, frame.data.code, frame.data.message);
        return;
      default: {
        const never: never = frame;
        return never;
      }
    }
  }

  private ceremonyById(id: string): CeremonyState | undefined {
    return [...this.ceremonies].find((c) => c.id === id);
  }

  private onServerError(ref: string | undefined, code: string, message: string): void {
    const login = this.login_;
    if (login && ref !== undefined && ref === login.ref) {
      this.settleLogin(undefined, new TapgateError(code, message));
      return;
    }
    if (login && ref !== undefined && ref === login.cancelRef) {
      // The server had no login open any more: nothing left to wait for.
      this.settleLogin({ requestId: login.requestId ?? '', outcome: 'cancelled' });
      return;
    }
    const ceremony = ref === undefined ? undefined : [...this.ceremonies].find((c) => c.ref === ref);
    if (ceremony) {
      ceremony.fail(new TapgateError(code, message));
      return;
    }
    this.emit('error', { code, message });
  }

  private settleLogin(result: LoginResult | undefined, error?: Error): void {
    const login = this.login_;
    if (!login) return;
    this.login_ = undefined;
    clearTimeout(login.guard);
    if (result) login.resolve(result);
    else login.reject(error ?? new TapgateError('protocol_error', 'login ended without a result'));
  }

  private failOperations(error: TapgateError): void {
    this.settleLogin(undefined, error);
    for (const c of this.ceremonies) c.fail(error);
    this.ceremonies.clear();
  }

  private log(step: string, detail?: unknown): void {
    if (!this.opts.debug) return;
    if (detail === undefined) console.debug('[tapgate]', step);
    else console.debug('[tapgate]', step, detail);
  }
}
