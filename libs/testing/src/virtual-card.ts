import { BandCard, GET_UID_APDU, SW, respond, type SoftwareBand } from '@tapgate/band';
import type { ProofFormat } from '@tapgate/band';
import { connect, type Socket } from 'node:net';

/**
 * A contactless card for vsmartcard's virtual reader (vpcd), in Node: "putting it on the reader" is
 * connecting to vpcd's TCP port, "taking it off" is closing the connection. vpcd's protocol: every
 * message either way is a 2-byte big-endian length and that many bytes. From vpcd, a 1-byte message is a
 * control code (0 power off, 1 power on, 2 reset, 4 send the ATR); anything longer is a command APDU,
 * answered with the response APDU. Only the ATR request and APDUs are answered.
 */
export interface CardBehaviour {
  readonly atr: Buffer;
  /** Answers one command APDU (data || SW1 SW2). */
  process(apdu: Buffer): Buffer;
  /** Power on or reset: forget any selection. */
  reset?(): void;
}

/** Faults a test can inject into a card's exchanges. */
export interface CardFaults {
  /** Answers an APDU this much later (a slow card): a number for every APDU, or per command. */
  delayMs?: number | ((command: Buffer) => number);
  /** Rewrites a response before it is sent (a garbled answer). */
  corrupt?: (command: Buffer, response: Buffer) => Buffer;
  /** Leaves the reader when this command arrives, without answering it (pulled mid-exchange). */
  pullOn?: (command: Buffer) => boolean;
}

const VPCD_CTRL = { off: 0, on: 1, reset: 2, atr: 4 } as const;

// ATRs as PC/SC part 3 readers report contactless cards: a storage card (UID only, MIFARE Classic 1K)
// and an ISO 14443-4 card with no historical bytes.
const STORAGE_CARD_ATR = Buffer.from('3B8F8001804F0CA000000306030001000000006A', 'hex');
const ISO14443_4_ATR = Buffer.from('3B8080010101', 'hex');

/** A plain UID badge: answers get data (FF CA 00 00 00) with its UID, nothing else. */
export function uidBadge(uidHex: string): CardBehaviour {
  const uid = Buffer.from(uidHex, 'hex');
  return {
    atr: STORAGE_CARD_ATR,
    process: (apdu) =>
      apdu.subarray(0, 5).equals(GET_UID_APDU)
        ? respond(SW.ok, uid)
        : apdu[1] === 0xa4
          ? respond(SW.fileNotFound)
          : respond(SW.insNotSupported),
  };
}

/** A software band's card face (and, as a reader would, its UID for get data). */
export function bandCard(
  band: SoftwareBand,
  opts: { version?: ProofFormat; uidHex?: string } = {},
): CardBehaviour {
  const card = new BandCard(band, { version: opts.version });
  const uid = Buffer.from(opts.uidHex ?? '08a1b2c3', 'hex');
  return {
    atr: ISO14443_4_ATR,
    process: (apdu) => (apdu.subarray(0, 5).equals(GET_UID_APDU) ? respond(SW.ok, uid) : card.process(apdu)),
    reset: () => card.reset(),
  };
}

export class VirtualCard {
  /** Every command APDU the card received, in order. */
  readonly commands: Buffer[] = [];
  private buffer = Buffer.alloc(0);
  private closed: Promise<void>;

  private constructor(
    private readonly socket: Socket,
    private readonly behaviour: CardBehaviour,
    private readonly faults: CardFaults,
  ) {
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', () => undefined);
    this.closed = new Promise((resolve) => socket.once('close', () => resolve()));
  }

  /** Puts the card on the vpcd reader listening on `port` (127.0.0.1). */
  static insert(port: number, behaviour: CardBehaviour, faults: CardFaults = {}): Promise<VirtualCard> {
    return new Promise((resolve, reject) => {
      const socket = connect({ port, host: '127.0.0.1' });
      socket.once('connect', () => resolve(new VirtualCard(socket, behaviour, faults)));
      socket.once('error', reject);
    });
  }

  get onReader(): boolean {
    return !this.socket.destroyed;
  }

  /** Takes the card off the reader. */
  async remove(): Promise<void> {
    this.socket.destroy();
    await this.closed;
  }

  private onData(chunk: Buffer): void {
    this.buffer = Buffer.concat([this.buffer, chunk]);
    while (this.buffer.length >= 2) {
      const len = this.buffer.readUInt16BE(0);
      if (this.buffer.length < 2 + len) return;
      const message = this.buffer.subarray(2, 2 + len);
      this.buffer = this.buffer.subarray(2 + len);
      this.onMessage(Buffer.from(message));
    }
  }

  private onMessage(message: Buffer): void {
    if (message.length === 1) {
      switch (message[0]) {
        case VPCD_CTRL.atr:
          this.send(this.behaviour.atr);
          break;
        case VPCD_CTRL.on:
        case VPCD_CTRL.reset:
        case VPCD_CTRL.off:
          this.behaviour.reset?.();
          break;
      }
      return;
    }
    this.commands.push(message);
    if (this.faults.pullOn?.(message)) {
      this.socket.destroy();
      return;
    }
    let response = this.behaviour.process(message);
    if (this.faults.corrupt) response = this.faults.corrupt(message, response);
    const delay =
      typeof this.faults.delayMs === 'function' ? this.faults.delayMs(message) : (this.faults.delayMs ?? 0);
    if (delay > 0) {
      setTimeout(() => this.send(response), delay);
    } else {
      this.send(response);
    }
  }

  private send(payload: Buffer): void {
    if (this.socket.destroyed) return;
    const head = Buffer.alloc(2);
    head.writeUInt16BE(payload.length);
    this.socket.write(Buffer.concat([head, payload]));
  }
}
