import {
  BandCardError,
  GET_UID_APDU,
  SW,
  describeStatusWord,
  identifyBandCard,
  parseResponse,
  signWithBandCard,
  type Transmit,
} from '@tapgate/band';
import { createLogger } from '@tapgate/telemetry';
import { execFile } from 'node:child_process';
import { connect } from 'node:net';
import { Backoff } from '../backoff';
import type { DriverSink, ReaderDriver } from './driver';
import { loadNativeModule, runningAsSingleExecutable } from './native-module';

const log = createLogger('pcsc');

// The PC/SC binding's types, narrowed to what this driver uses (the package is an optional dependency
// with a native part, so it is loaded at start, not imported).
interface PcscReader {
  name: string;
  connected: boolean;
  SCARD_SHARE_SHARED: number;
  SCARD_PROTOCOL_T0: number;
  SCARD_PROTOCOL_T1: number;
  SCARD_STATE_PRESENT: number;
  SCARD_STATE_MUTE: number;
  SCARD_LEAVE_CARD: number;
  on(event: 'status', listener: (status: { state: number; atr?: Buffer }) => void): this;
  on(event: 'end', listener: () => void): this;
  on(event: 'error', listener: (err: Error) => void): this;
  connect(opts: { share_mode: number; protocol: number }, cb: (err: unknown, protocol: number) => void): void;
  disconnect(disposition: number, cb: (err: unknown) => void): void;
  transmit(data: Buffer, resLen: number, protocol: number, cb: (err: unknown, res: Buffer) => void): void;
  removeAllListeners(): this;
  close(): void;
}
interface PcscContext {
  on(event: 'reader', listener: (reader: PcscReader) => void): this;
  on(event: 'error', listener: (err: Error) => void): this;
  removeAllListeners(): this;
  close(): void;
}
type PcscFactory = () => PcscContext;

/** Where pcsc-lite's client library finds pcscd (it honours the same variable). */
export function pcscdSocketPath(env: NodeJS.ProcessEnv = process.env): string {
  return env.PCSCLITE_CSOCK_NAME || '/run/pcscd/pcscd.comm';
}

/**
 * Why the PC/SC binding is missing and what to do, for the way the endpoint node runs: a source
 * install builds it (scripts/setup.sh); the Linux package ships it beside the executable and needs
 * pcsc-lite's client library; the Windows package has none (no prebuilt Windows binary exists for it
 * and it cannot be compiled where the package is built), so driver = "nfc" is not available there.
 */
export function pcscUnavailableMessage(
  cause: string,
  runtime: { singleExecutable: boolean; platform: NodeJS.Platform },
): string {
  const missing = `the PC/SC binding (@pokusew/pcsclite) could not be loaded: ${cause}. `;
  if (!runtime.singleExecutable) {
    return (
      missing + 'Install libpcsclite-dev and rebuild it: scripts/setup.sh (docs/operations.md, "NFC readers")'
    );
  }
  if (runtime.platform === 'win32') {
    return (
      'driver = "nfc" is not available in the Windows package: it does not include the PC/SC binding ' +
      '@pokusew/pcsclite (the package publishes no prebuilt Windows binary and it is not compiled for ' +
      'Windows by the build). Use driver = "ble", or run the endpoint node from a source install built on ' +
      `Windows (docs/operations.md, "Installing the endpoint node on Windows"). Load error: ${cause}`
    );
  }
  return (
    missing +
    'The package ships it in node_modules beside the executable and needs pcsc-lite: ' +
    'apt-get install libpcsclite1 pcscd (docs/operations.md, "Installing the endpoint node on Linux")'
  );
}

/** The PC/SC binding, or an error that says how to get it. */
export function loadPcscBinding(): PcscFactory | Error {
  try {
    return loadNativeModule('@pokusew/pcsclite') as PcscFactory;
  } catch (e) {
    return new Error(
      pcscUnavailableMessage((e as Error).message, {
        singleExecutable: runningAsSingleExecutable(),
        platform: process.platform,
      }),
    );
  }
}

export interface PcscDriverOptions {
  /**
   * Readers whose name contains this text (case-insensitive) take taps; others are ignored. Empty or
   * undefined: every reader of the terminal takes taps.
   */
  readerFilter?: string;
  /** How long one APDU may take before the card counts as not answering. */
  apduTimeoutMs: number;
  backoff?: Backoff;
  binding?: PcscFactory;
}

/** A card on a reader: the connection to it, ended when the card leaves or its tap is done. */
interface CardSession {
  protocol: number;
  closed: boolean;
}

/**
 * NFC over PC/SC: every reader pcscd (or Windows' smart card service) reports, hot-plugged or not.
 * A card put on a reader is asked for the band application (SELECT by AID); a band gives its id and later
 * signs the gateway's challenge over the same connection, anything else is read as a UID badge (PC/SC
 * get data, FF CA 00 00 00). When the service goes away (pcscd restarted), the driver reconnects with
 * backoff and picks the readers up again.
 */
export class PcscDriver implements ReaderDriver {
  readonly name = 'pcsc';
  private sink: DriverSink | undefined;
  private context: PcscContext | undefined;
  private readonly readers = new Map<string, { reader: PcscReader; state: number; card?: CardSession }>();
  private reconnectTimer: NodeJS.Timeout | undefined;
  private readonly backoff: Backoff;
  private stopped = true;

  constructor(private readonly opts: PcscDriverOptions) {
    this.backoff = opts.backoff ?? new Backoff(250, 10_000);
  }

  /** The readers in use, by name, and whether a card is on each. */
  list(): Array<{ reader: string; card: boolean }> {
    return [...this.readers.values()].map((r) => ({ reader: r.reader.name, card: r.card !== undefined }));
  }

  async start(sink: DriverSink): Promise<void> {
    const binding = this.opts.binding ?? loadPcscBinding();
    if (binding instanceof Error) throw binding;
    this.sink = sink;
    this.stopped = false;
    void this.connectService(binding);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.reconnectTimer);
    this.dropService();
    this.sink = undefined;
  }

  private async connectService(binding: PcscFactory): Promise<void> {
    // The binding's constructor retries in a busy loop while the service is down, which would freeze
    // the endpoint: first make sure the service is there.
    const down = await pcscServiceProblem();
    if (down) {
      this.retry(binding, down);
      return;
    }
    if (this.stopped) return;
    let context: PcscContext;
    try {
      context = binding();
    } catch (e) {
      this.retry(binding, (e as Error).message);
      return;
    }
    this.context = context;
    log.info({ socket: pcscdSocketPath() }, 'connected to the PC/SC service');
    context.on('reader', (reader) => this.onReader(reader));
    context.on('error', (err) => {
      if (this.context !== context) return;
      this.dropService();
      this.retry(binding, err.message);
    });
  }

  private retry(binding: PcscFactory, why: string): void {
    if (this.stopped) return;
    const delay = this.backoff.next();
    log.warn({ err: why, retryInMs: delay }, 'PC/SC service unavailable; retrying');
    clearTimeout(this.reconnectTimer);
    this.reconnectTimer = setTimeout(() => void this.connectService(binding), delay);
  }

  private dropService(): void {
    const context = this.context;
    this.context = undefined;
    for (const { reader, card } of this.readers.values()) {
      if (card) card.closed = true;
      reader.removeAllListeners();
      reader.on('error', () => undefined);
      try {
        reader.close();
      } catch {
        // Already gone with the service.
      }
    }
    this.readers.clear();
    if (context) {
      context.removeAllListeners();
      context.on('error', () => undefined);
      try {
        context.close();
      } catch {
        // Already gone with the service.
      }
    }
  }

  private takesTaps(name: string): boolean {
    const filter = this.opts.readerFilter?.trim().toLowerCase();
    return !filter || name.toLowerCase().includes(filter);
  }

  private onReader(reader: PcscReader): void {
    if (!this.takesTaps(reader.name)) {
      log.info({ reader: reader.name, filter: this.opts.readerFilter }, 'reader ignored (nfc_reader)');
      reader.on('error', () => undefined);
      return;
    }
    this.backoff.reset();
    const entry: { reader: PcscReader; state: number; card?: CardSession } = { reader, state: 0 };
    this.readers.set(reader.name, entry);
    log.info({ reader: reader.name }, 'reader added');
    reader.on('error', (err) => log.warn({ reader: reader.name, err: err.message }, 'reader error'));
    reader.on('end', () => {
      if (entry.card) entry.card.closed = true;
      if (this.readers.get(reader.name) === entry) this.readers.delete(reader.name);
      log.info({ reader: reader.name }, 'reader removed');
    });
    reader.on('status', (status) => {
      const present = (status.state & reader.SCARD_STATE_PRESENT) !== 0;
      const mute = (status.state & reader.SCARD_STATE_MUTE) !== 0;
      const was = (entry.state & reader.SCARD_STATE_PRESENT) !== 0;
      entry.state = status.state;
      if (present && !was && !mute) {
        void this.onCard(entry);
      } else if (!present && was) {
        if (entry.card) entry.card.closed = true;
        entry.card = undefined;
        // The binding keeps one card handle per reader: a handle left open would stand for the next card.
        this.disconnect(reader);
        log.debug({ reader: reader.name }, 'card removed');
      }
    });
  }

  private async onCard(entry: { reader: PcscReader; card?: CardSession }): Promise<void> {
    const { reader } = entry;
    let session: CardSession;
    try {
      // A handle still open from the previous card (its tap never finished) would not reach this one.
      if (reader.connected) await new Promise<void>((resolve) => this.disconnect(reader, resolve));
      const protocol = await new Promise<number>((resolve, reject) =>
        reader.connect(
          {
            share_mode: reader.SCARD_SHARE_SHARED,
            protocol: reader.SCARD_PROTOCOL_T0 | reader.SCARD_PROTOCOL_T1,
          },
          (err, p) => (err ? reject(asError(err)) : resolve(p)),
        ),
      );
      session = { protocol, closed: false };
      entry.card = session;
    } catch (e) {
      log.warn({ reader: reader.name, err: (e as Error).message }, 'could not connect to the card');
      return;
    }
    const transmit = this.transmitter(reader, session);
    const done = () => this.release(reader, session);
    try {
      const band = await identifyBandCard(transmit);
      if (band) {
        log.info({ reader: reader.name, band: band.bandId, version: band.version }, 'band on reader');
        this.sink?.nfc({
          bandId: band.bandId,
          protocolVersion: band.version,
          reader: reader.name,
          sign: (challenge, terminalId) =>
            signWithBandCard(transmit, band, { challenge, terminalId }).finally(done),
        });
        return;
      }
      const uid = parseResponse(await transmit(GET_UID_APDU));
      done();
      if (uid.sw !== SW.ok || uid.data.length < 4 || uid.data.length > 16) {
        log.warn(
          { reader: reader.name, sw: describeStatusWord(uid.sw) },
          'card has neither a band nor a UID',
        );
        return;
      }
      this.sink?.nfc({ uid: uid.data.toString('hex'), protocolVersion: 0, reader: reader.name });
    } catch (e) {
      done();
      log.warn({ reader: reader.name, err: (e as Error).message }, 'card could not be read');
    }
  }

  /** APDU exchange with one card; fails fast once the card has left, and when it is too slow. */
  private transmitter(reader: PcscReader, session: CardSession): Transmit {
    const timeoutMs = this.opts.apduTimeoutMs;
    return (command) =>
      new Promise<Buffer>((resolve, reject) => {
        if (session.closed) {
          reject(new BandCardError('the card was taken off the reader'));
          return;
        }
        const timer = setTimeout(
          () => reject(new BandCardError(`the card did not answer within ${timeoutMs} ms`)),
          timeoutMs,
        );
        reader.transmit(command, 258, session.protocol, (err, response) => {
          clearTimeout(timer);
          if (err) {
            const gone = session.closed ? 'the card was taken off the reader' : asError(err).message;
            reject(new BandCardError(gone));
          } else {
            resolve(response);
          }
        });
      });
  }

  private release(reader: PcscReader, session: CardSession): void {
    if (!session.closed) this.disconnect(reader);
  }

  private disconnect(reader: PcscReader, then?: () => void): void {
    if (!reader.connected) {
      then?.();
      return;
    }
    reader.disconnect(reader.SCARD_LEAVE_CARD, (err) => {
      if (err) log.debug({ reader: reader.name, err: asError(err).message }, 'disconnect failed');
      then?.();
    });
  }
}

function asError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}

/**
 * Why the PC/SC service cannot be used now, or undefined when it runs: on Linux pcscd must answer on its
 * socket; on Windows the smart card service (SCardSvr) must be running (Windows starts it when a
 * reader is attached). The Windows check was not run here (no Windows machine).
 */
async function pcscServiceProblem(): Promise<string | undefined> {
  if (process.platform === 'win32') {
    const state = await new Promise<string>((resolve) =>
      execFile('sc.exe', ['query', 'SCardSvr'], { timeout: 5000, windowsHide: true }, (err, stdout) =>
        resolve(err ? '' : stdout),
      ),
    );
    return /RUNNING/.test(state) ? undefined : 'the smart card service (SCardSvr) is not running';
  }
  const socket = pcscdSocketPath();
  return (await socketAnswers(socket)) ? undefined : `pcscd is not running (no answer on ${socket})`;
}

/** True when something accepts connections on the Unix socket. */
function socketAnswers(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ path });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}
