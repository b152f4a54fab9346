import { SpanKind, SpanStatusCode, context, trace, type Counter } from '@opentelemetry/api';
import { receiving, type NatsContract, type RequestContract } from '@tapgate/contracts';
import {
  createLogger,
  extractTraceContext,
  getMeter,
  getTracer,
  injectTraceContext,
} from '@tapgate/telemetry';
import {
  ErrorCode,
  connect,
  createInbox,
  headers as natsHeaders,
  type ConnectionOptions,
  type Msg,
  type MsgHdrs,
  type NatsConnection,
  type Subscription,
} from 'nats';
import { ERROR_HEADER, ERROR_MESSAGE_HEADER, RemoteError, RequestError } from './errors';

export interface MessagingOptions {
  servers: string[];
  /** Connection name shown by `nats server report connections`: service and instance. */
  name: string;
  token?: string;
  /** PEM CA bundle to verify a TLS NATS server. */
  ca?: string;
  requestTimeoutMs?: number;
  /** JetStream replicas of every stream and KV bucket created through this connection ([nats] replicas). Default 1. */
  replicas?: number;
}

export interface MessageContext {
  subject: string;
  headers?: MsgHdrs;
}

/** A responder's context: `interim` sends an early reply; the handler's result is the last one. */
export interface ResponderContext<Res> extends MessageContext {
  interim(res: Res): void;
}

export interface CollectOptions<Res> {
  subject?: string;
  /** No reply within this: rejects with `timeout`. */
  timeoutMs?: number;
  /** After a reply, how long to wait for another one before resolving. */
  quietMs: number;
  /** Epoch ms after which no further reply is waited for (once nothing is outstanding). */
  settleBy?: number;
  /** True while the replies so far announce more to come (then quietMs alone does not end it). */
  outstanding?: (replies: Res[]) => boolean;
  /** True when the replies so far are all that are expected: resolve at once, without the quiet wait. */
  complete?: (replies: Res[]) => boolean;
  /** Headers the contract declares for the request (trace context is added by itself). */
  headers?: Readonly<Record<string, string>>;
}

export type Unsubscribe = () => void;

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const log = createLogger('messaging');
/** How long close() waits for a drain (pending replies, flushed publishes) before it just closes. */
export const DRAIN_LIMIT_MS = 5000;

function encode(value: unknown): Uint8Array {
  return encoder.encode(JSON.stringify(value));
}

function decode(data: Uint8Array): unknown {
  return JSON.parse(decoder.decode(data));
}

/** Header carrier adapter: nats.js MsgHdrs for the OpenTelemetry propagator. */
function carrier(h: MsgHdrs) {
  return {
    get: (k: string) => (h.has(k) ? h.get(k) : undefined),
    set: (k: string, v: string) => h.set(k, v),
  };
}

function outgoingHeaders(extra?: Readonly<Record<string, string>>): MsgHdrs | undefined {
  const traced = trace.getActiveSpan() !== undefined;
  if (!traced && extra === undefined) return undefined;
  const h = natsHeaders();
  if (traced) injectTraceContext(carrier(h));
  for (const [k, v] of Object.entries(extra ?? {})) h.set(k, v);
  return h;
}

/** What a reply waiter is told: a reply, or that the connection failed it. */
type ReplyListener = (err: Error | null, m: Msg | undefined) => void;

/**
 * Every reply to this connection's requests arrives on one wildcard subscription, `<inbox>.*`, made once,
 * and is handed to the waiter of its last token. Without it, each collecting request (a tap's delivery)
 * cost a SUB and an UNSUB next to its PUB, and each single request a nats.js `RequestOne`, which builds an
 * Error with a stack trace after every answered request (a few % of the gateway's CPU per tap).
 */
class ReplyInbox {
  private readonly prefix: string;
  private readonly waiting = new Map<string, ReplyListener>();
  private next = 0;

  constructor(nc: NatsConnection) {
    // Random per connection, as nats.js's own inboxes: another client cannot guess where replies go.
    this.prefix = `${createInbox()}.`;
    nc.subscribe(`${this.prefix}*`, {
      callback: (err, m) => {
        if (err) {
          // The subscription itself failed (the connection closed): nothing more will arrive for anyone.
          for (const listener of [...this.waiting.values()]) listener(err, undefined);
          this.waiting.clear();
          return;
        }
        this.waiting.get(m.subject.slice(this.prefix.length))?.(null, m);
      },
    });
  }

  /** A reply subject of its own for one request; `close` stops its replies (later ones are dropped). */
  open(listener: ReplyListener): { subject: string; close: () => void } {
    const token = (this.next++).toString(36);
    this.waiting.set(token, listener);
    return { subject: this.prefix + token, close: () => this.waiting.delete(token) };
  }
}

/**
 * Typed NATS access for every service: each call names a contract from @tapgate/contracts, payloads
 * are validated where they are received, and the trace context travels in message headers.
 *
 * The connection is made in the background and retried forever, so a service can start (and report
 * "not ready") while NATS is unreachable; subscriptions made before the first connect are applied
 * when it happens, and nats.js keeps them across reconnects.
 */
export class Messaging {
  private nc: NatsConnection | undefined;
  private replies: ReplyInbox | undefined;
  private closed = false;
  private readonly pending: Array<(nc: NatsConnection) => void> = [];
  private readonly connected: Promise<NatsConnection>;
  private readonly invalidCounter: Counter;
  private readonly requestTimeoutMs: number;
  private reconnecting = false;
  private disconnects = 0;
  /** Replicas every JetStream asset this service creates gets ([nats] replicas). */
  readonly jetstreamReplicas: number;

  constructor(private readonly opts: MessagingOptions) {
    this.requestTimeoutMs = opts.requestTimeoutMs ?? 2000;
    this.jetstreamReplicas = opts.replicas ?? 1;
    this.invalidCounter = getMeter().createCounter('tapgate.messaging.invalid', {
      description: 'NATS messages dropped because they failed schema validation',
    });
    this.connected = this.connectLoop();
  }

  private async connectLoop(): Promise<NatsConnection> {
    const options: ConnectionOptions = {
      servers: this.opts.servers,
      name: this.opts.name,
      token: this.opts.token,
      maxReconnectAttempts: -1,
      reconnectTimeWait: 250,
      reconnectJitter: 250,
      waitOnFirstConnect: true,
      // A server that stops answering (its host cut off from the network) is given up after 2 unanswered
      // pings, 6-9 s, and the client moves to another server of the list; longer, and the service would
      // look ready while nothing reaches it.
      pingInterval: 3_000,
      maxPingOut: 2,
      // A listed server that is cut off does not refuse a connection, it lets it hang: give up on it after
      // 5 s and try the next (nats.js waits 20 s by default, while the service is out of its queue groups).
      timeout: 5_000,
      // nats.js otherwise builds an Error (a stack trace) per request just in case it fails: a
      // measurable share of a tap's CPU, for a stack that would only point into nats.js.
      noAsyncTraces: true,
      ...(this.opts.ca ? { tls: { ca: this.opts.ca } } : {}),
    };
    const nc = await connect(options);
    if (this.closed) {
      await nc.close();
      throw new RequestError('closed', '-', 'messaging closed before it connected');
    }
    this.nc = nc;
    this.replies = new ReplyInbox(nc);
    for (const apply of this.pending.splice(0)) apply(nc);
    void (async () => {
      for await (const s of nc.status()) {
        // 'disconnect' and 'reconnect' bracket the window in which readiness must be false.
        if (s.type === 'disconnect') {
          this.reconnecting = true;
          this.disconnects++;
        }
        if (s.type === 'reconnect') this.reconnecting = false;
        const level = s.type === 'disconnect' || s.type === 'reconnect' ? 'warn' : 'debug';
        log[level]({ status: s.type, data: typeof s.data === 'string' ? s.data : undefined }, 'nats status');
      }
    })();
    log.info({ server: nc.getServer() }, 'connected to NATS');
    return nc;
  }

  /** Resolves with the raw connection once connected (for JetStream and KV). */
  connection(): Promise<NatsConnection> {
    return this.connected;
  }

  /** True while a NATS server is connected (readiness). */
  isConnected(): boolean {
    return this.nc !== undefined && !this.nc.isClosed() && !this.closed && !this.reconnecting;
  }

  /**
   * Changes with every lost connection: what a service learnt from events (which core NATS may have
   * dropped while it was away) is trusted only within one epoch. Undefined while not connected.
   */
  connectionEpoch(): number | undefined {
    return this.isConnected() ? this.disconnects : undefined;
  }

  private withConnection(apply: (nc: NatsConnection) => void): void {
    if (this.nc) apply(this.nc);
    else this.pending.push(apply);
  }

  publish<T>(c: NatsContract<T>, msg: T, subject = c.subject): void {
    if (!this.nc || this.closed) {
      throw new RequestError('closed', subject, 'not connected to NATS');
    }
    this.nc.publish(subject, encode(msg), { headers: outgoingHeaders() });
  }

  /**
   * One request, answered by one responder (of the contract's queue group). With `attempts` n > 1 the
   * request is sent again every timeoutMs / n while no answer has come, up to n tries, each listened to
   * until the whole `timeoutMs` has passed: NATS hands each try to a queue member at random, so a member
   * that fell silent without leaving the group (its host cut off, its subscription still held by the
   * cluster) costs one interval, not the request, and a slow answer to an earlier try still counts. The
   * first answer wins; an error reply (or no responders) ends the request at once, as with one try. Only
   * reads that any member may answer should ask more than once.
   */
  async request<Req, Res>(
    c: RequestContract<Req, Res>,
    msg: Req,
    opts: {
      subject?: string;
      timeoutMs?: number;
      attempts?: number;
      headers?: Readonly<Record<string, string>>;
    } = {},
  ): Promise<Res> {
    const attempts = Math.max(1, Math.floor(opts.attempts ?? 1));
    const budgetMs = Math.max(1, Math.floor(opts.timeoutMs ?? this.requestTimeoutMs));
    if (attempts === 1) return this.requestOnce(c, msg, opts.subject, budgetMs, opts.headers);
    const started = Date.now();
    const intervalMs = Math.max(1, Math.floor(budgetMs / attempts));
    return new Promise<Res>((resolve, reject) => {
      let sent = 0;
      let waiting = 0;
      let done = false;
      let next: NodeJS.Timeout | undefined;
      const finish = (settle: () => void) => {
        done = true;
        clearTimeout(next);
        settle();
      };
      const send = () => {
        sent++;
        waiting++;
        if (sent > 1) {
          log.debug({ subject: opts.subject ?? c.subject, attempt: sent }, 'no answer yet; asking again');
        }
        const remainingMs = Math.max(1, budgetMs - (Date.now() - started));
        this.requestOnce(c, msg, opts.subject, remainingMs, opts.headers).then(
          (reply) => {
            waiting--;
            if (!done) finish(() => resolve(reply));
          },
          (e: Error) => {
            waiting--;
            if (done) return;
            const timedOut = e instanceof RequestError && e.kind === 'timeout';
            // A try's timeout ends the request only once every try has been sent and has timed out.
            if (!timedOut || (sent >= attempts && waiting === 0)) finish(() => reject(e));
          },
        );
        if (sent < attempts) next = setTimeout(() => done || send(), intervalMs);
      };
      send();
    });
  }

  private async requestOnce<Req, Res>(
    c: RequestContract<Req, Res>,
    msg: Req,
    subject: string | undefined,
    timeoutMs: number,
    headers: Readonly<Record<string, string>> | undefined,
  ): Promise<Res> {
    // The first reply is the answer: complete at once.
    const [reply] = await this.requestAll(c, msg, {
      subject,
      timeoutMs,
      quietMs: 0,
      complete: () => true,
      headers,
    });
    return reply;
  }

  /**
   * A request that several responders may answer (each more than once): resolves with every reply
   * that arrived until `quietMs` passed without another one (or `settleBy` came) while none is
   * outstanding, or at once when `complete` says so. Rejects like `request` when nobody answers, and on
   * any error or invalid reply.
   */
  async requestAll<Req, Res>(
    c: RequestContract<Req, Res>,
    msg: Req,
    opts: CollectOptions<Res>,
  ): Promise<Res[]> {
    const subject = opts.subject ?? c.subject;
    const nc = this.nc;
    const inboxes = this.replies;
    if (!nc || !inboxes || this.closed) throw new RequestError('closed', subject, 'not connected to NATS');
    const replies: Res[] = [];
    return new Promise<Res[]>((resolve, reject) => {
      let quiet: NodeJS.Timeout | undefined;
      const end = (result: { ok: Res[] } | { err: RequestError }) => {
        clearTimeout(overall);
        clearTimeout(quiet);
        inbox.close();
        if ('ok' in result) resolve(result.ok);
        else reject(result.err);
      };
      const overall = setTimeout(
        () => end({ err: new RequestError('timeout', subject, 'request timed out') }),
        opts.timeoutMs ?? this.requestTimeoutMs,
      );
      const inbox = inboxes.open((err, m) => {
        if (err || !m) return end({ err: new RequestError('closed', subject, err?.message ?? 'closed') });
        if (m.data.length === 0 && m.headers?.status === ErrorCode.NoResponders) {
          return end({ err: new RequestError('no_responders', subject, 'no responders') });
        }
        try {
          replies.push(this.parseReply(c, subject, m));
        } catch (e) {
          return end({ err: e as RequestError });
        }
        if (opts.complete?.(replies)) return end({ ok: replies });
        clearTimeout(quiet);
        // An announced follow-up is still to come: no quiet time may end the wait before it (a timer
        // started by an earlier reply would otherwise cut it short).
        if (opts.outstanding?.(replies)) return;
        const wait = Math.min(opts.quietMs, (opts.settleBy ?? Infinity) - Date.now());
        quiet = setTimeout(() => end({ ok: replies }), Math.max(0, wait));
      });
      try {
        nc.publish(subject, encode(msg), { reply: inbox.subject, headers: outgoingHeaders(opts.headers) });
      } catch (e) {
        end({ err: new RequestError('closed', subject, (e as Error).message) });
      }
    });
  }

  private parseReply<Req, Res>(c: RequestContract<Req, Res>, subject: string, reply: Msg): Res {
    if (reply.headers?.has(ERROR_HEADER)) {
      const code = reply.headers.get(ERROR_HEADER);
      const message = reply.headers.get(ERROR_MESSAGE_HEADER);
      throw new RequestError('remote_error', subject, `${code}: ${message}`);
    }
    let body: unknown;
    try {
      body = decode(reply.data);
    } catch {
      throw new RequestError('invalid_reply', subject, 'reply is not JSON');
    }
    // A newer replica may answer with fields this one does not know (docs/protocol.md §11).
    const parsed = receiving(c.reply).safeParse(body);
    if (!parsed.success) throw new RequestError('invalid_reply', subject, parsed.error.message);
    return parsed.data;
  }

  private validate<T>(c: NatsContract<T>, m: Msg): { ok: true; value: T } | { ok: false; why: string } {
    let body: unknown;
    try {
      body = decode(m.data);
    } catch {
      return { ok: false, why: 'not JSON' };
    }
    const parsed = receiving(c.schema).safeParse(body);
    if (!parsed.success) {
      return {
        ok: false,
        why: parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; '),
      };
    }
    return { ok: true, value: parsed.data };
  }

  subscribe<T>(
    c: NatsContract<T>,
    handler: (msg: T, ctx: MessageContext) => void | Promise<void>,
    opts: { subject?: string; queue?: string } = {},
  ): Unsubscribe {
    const subject = opts.subject ?? c.subject;
    let sub: Subscription | undefined;
    let cancelled = false;
    this.withConnection((nc) => {
      if (cancelled) return;
      sub = nc.subscribe(subject, {
        queue: opts.queue ?? c.queue,
        callback: (err, m) => {
          if (err) return;
          const v = this.validate(c, m);
          if (!v.ok) {
            this.invalidCounter.add(1, { subject: c.subject });
            log.warn({ subject: m.subject, problem: v.why }, 'dropped invalid message');
            return;
          }
          const parent = extractTraceContext(m.headers ? carrier(m.headers) : undefined);
          context.with(parent, () => {
            try {
              const r = handler(v.value, { subject: m.subject, headers: m.headers });
              if (r instanceof Promise) {
                r.catch((e: unknown) => log.error({ err: e, subject: m.subject }, 'message handler failed'));
              }
            } catch (e) {
              log.error({ err: e, subject: m.subject }, 'message handler failed');
            }
          });
        },
      });
    });
    return () => {
      cancelled = true;
      sub?.unsubscribe();
    };
  }

  respond<Req, Res>(
    c: RequestContract<Req, Res>,
    handler: (req: Req, ctx: ResponderContext<Res>) => Promise<Res>,
    opts: { subject?: string; queue?: string } = {},
  ): Unsubscribe {
    return this.serve(c, handler, opts, false);
  }

  /**
   * Like respond(), for a subject every replica subscribes to (no queue) where only one replica can
   * answer, e.g. the one holding a terminal's socket: a handler that resolves `undefined` sends nothing,
   * leaving the request to the replica that does answer (or to the requester's timeout when none does).
   * It never joins the contract's queue group.
   */
  respondWhenMine<Req, Res>(
    c: RequestContract<Req, Res>,
    handler: (req: Req, ctx: ResponderContext<Res>) => Promise<Res | undefined>,
    opts: { subject?: string } = {},
  ): Unsubscribe {
    return this.serve(c, handler, opts, true);
  }

  private serve<Req, Res>(
    c: RequestContract<Req, Res>,
    handler: (req: Req, ctx: ResponderContext<Res>) => Promise<Res | undefined>,
    opts: { subject?: string; queue?: string },
    silentWhenUndefined: boolean,
  ): Unsubscribe {
    const subject = opts.subject ?? c.subject;
    let sub: Subscription | undefined;
    let cancelled = false;
    const replyError = (m: Msg, code: string, message: string) => {
      const h = natsHeaders();
      h.set(ERROR_HEADER, code);
      h.set(ERROR_MESSAGE_HEADER, message.slice(0, 512).replace(/[\r\n]/g, ' '));
      m.respond(encoder.encode(''), { headers: h });
    };
    this.withConnection((nc) => {
      if (cancelled) return;
      sub = nc.subscribe(subject, {
        // Silent responders never share a queue group: each must see every request to know whether it is theirs.
        queue: silentWhenUndefined ? undefined : (opts.queue ?? c.queue),
        callback: (err, m) => {
          if (err || !m.reply) return;
          const v = this.validate(c, m);
          if (!v.ok) {
            this.invalidCounter.add(1, { subject: c.subject });
            replyError(m, 'invalid_request', v.why);
            return;
          }
          const parent = extractTraceContext(m.headers ? carrier(m.headers) : undefined);
          const span = getTracer().startSpan(`${c.subject} process`, { kind: SpanKind.SERVER }, parent);
          context
            .with(trace.setSpan(parent, span), () =>
              handler(v.value, {
                subject: m.subject,
                headers: m.headers,
                interim: (res) => m.respond(encode(res)),
              }),
            )
            .then(
              (res) => {
                if (res !== undefined || !silentWhenUndefined) m.respond(encode(res));
              },
              (e: unknown) => {
                span.setStatus({ code: SpanStatusCode.ERROR });
                if (e instanceof RemoteError) {
                  replyError(m, e.code, e.message);
                } else {
                  log.error({ err: e, subject: m.subject }, 'request handler failed');
                  replyError(m, 'internal_error', 'handler failed');
                }
              },
            )
            .finally(() => span.end());
        },
      });
    });
    return () => {
      cancelled = true;
      sub?.unsubscribe();
    };
  }

  /**
   * Resolves once the server has processed everything sent so far (e.g. a new subscription is live
   * cluster-wide). Resolves at once while disconnected: nats.js re-sends subscriptions on reconnect.
   */
  async flush(): Promise<void> {
    const nc = this.nc;
    if (nc && !nc.isClosed() && !this.reconnecting) await nc.flush().catch(() => undefined);
  }

  /** Drains subscriptions and closes. Safe to call twice. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const nc = this.nc;
    if (!nc || nc.isClosed()) return;
    // Draining needs the server; while disconnected it would wait for a reconnect that may never come.
    if (this.reconnecting) {
      await nc.close();
      return;
    }
    // A server cut off without a reset (a partition) leaves the socket open and a drain waiting for
    // answers that never come; after DRAIN_LIMIT_MS the connection is closed without them.
    let limit: NodeJS.Timeout | undefined;
    const drained = nc.drain().then(
      () => true,
      () => false,
    );
    const timedOut = new Promise<boolean>((resolve) => {
      limit = setTimeout(() => resolve(false), DRAIN_LIMIT_MS);
    });
    const ok = await Promise.race([drained, timedOut]);
    clearTimeout(limit);
    if (!ok && !nc.isClosed()) await nc.close();
  }
}

export function connectMessaging(opts: MessagingOptions): Messaging {
  return new Messaging(opts);
}

/**
 * The connection options of a service from its `[nats]` settings (@tapgate/config NatsSettings), with
 * `name` when the file names none: the one place they are mapped, so a new `[nats]` key reaches every
 * service.
 */
export function natsMessagingOptions(
  nats: Omit<MessagingOptions, 'name'> & { name?: string },
  name: string,
): MessagingOptions {
  return {
    servers: nats.servers,
    name: nats.name ?? name,
    token: nats.token,
    ca: nats.ca,
    requestTimeoutMs: nats.requestTimeoutMs,
    replicas: nats.replicas,
  };
}
