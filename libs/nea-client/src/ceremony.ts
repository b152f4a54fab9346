import { TapgateError } from './errors.js';
import type { EsignClosed, EsignOpened, EsignSignature } from './frames.js';

/** An e-signature ceremony opened with TapgateClient.esign(). */
export interface Ceremony {
  /** Resolves when the platform opened the ceremony (its id and expiry). */
  readonly opened: Promise<EsignOpened>;
  /** Resolves when it completed, expired or was cancelled; rejects on disconnect or a refusal to open. */
  readonly done: Promise<EsignClosed>;
  /** The ceremony id once opened. */
  readonly id: string | undefined;
  /** Called for every signer's tap, granted or refused (also for taps that came before the call). */
  onSignature(callback: (signature: EsignSignature) => void): () => void;
  /** Asks the platform to cancel; `done` then resolves with state "cancelled". */
  cancel(): void;
}

/** The client's side of a ceremony; the client feeds it frames. */
export class CeremonyState implements Ceremony {
  readonly opened: Promise<EsignOpened>;
  readonly done: Promise<EsignClosed>;
  id: string | undefined;
  cancelRequested = false;
  settled = false;
  private readonly signatures: EsignSignature[] = [];
  private readonly callbacks = new Set<(s: EsignSignature) => void>();
  private resolveOpened!: (v: EsignOpened) => void;
  private rejectOpened!: (e: Error) => void;
  private resolveDone!: (v: EsignClosed) => void;
  private rejectDone!: (e: Error) => void;

  constructor(
    readonly ref: string,
    private readonly sendCancel: (ceremonyId: string) => void,
  ) {
    this.opened = new Promise((resolve, reject) => {
      this.resolveOpened = resolve;
      this.rejectOpened = reject;
    });
    this.done = new Promise((resolve, reject) => {
      this.resolveDone = resolve;
      this.rejectDone = reject;
    });
    // Callers often await only one of the two; the other must not become an unhandled rejection.
    this.opened.catch(() => undefined);
    this.done.catch(() => undefined);
  }

  onSignature(callback: (signature: EsignSignature) => void): () => void {
    this.callbacks.add(callback);
    for (const s of this.signatures) callback(s);
    return () => this.callbacks.delete(callback);
  }

  cancel(): void {
    if (this.settled || this.cancelRequested) return;
    this.cancelRequested = true;
    if (this.id !== undefined) this.sendCancel(this.id);
  }

  markOpened(data: EsignOpened): void {
    this.id = data.ceremonyId;
    this.resolveOpened(data);
    if (this.cancelRequested) this.sendCancel(data.ceremonyId);
  }

  addSignature(data: EsignSignature): void {
    this.signatures.push(data);
    for (const cb of [...this.callbacks]) {
      try {
        cb(data);
      } catch (e) {
        console.error('[tapgate] onSignature callback failed', e);
      }
    }
  }

  close(data: EsignClosed): void {
    this.settled = true;
    this.resolveDone(data);
  }

  fail(error: TapgateError): void {
    if (this.settled) return;
    this.settled = true;
    this.rejectOpened(error);
    this.rejectDone(error);
  }
}
