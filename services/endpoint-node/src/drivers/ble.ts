import type { EventEmitter } from 'node:events';
import { createLogger } from '@tapgate/telemetry';
import { decodeBandAdvert } from './ble-advert';
import { loadNativeModule } from './native-module';
import type { DriverSink, ReaderDriver } from './driver';

const log = createLogger('ble-driver');

/** The part of a noble peripheral a scan reports (noble's `discover` event argument). */
export interface ScannedPeripheral {
  /** Bluetooth address as noble reports it; bands rotate it, so it is only logged, never trusted. */
  address?: string;
  rssi: number;
  advertisement: { manufacturerData?: Buffer };
}

/** The part of @stoprocent/noble the driver uses, so tests can feed recorded adverts through a fake. */
export interface BleScanner extends EventEmitter {
  readonly state: string;
  startScanningAsync(serviceUUIDs?: string[], allowDuplicates?: boolean): Promise<void>;
  stopScanningAsync(): Promise<void>;
}

export interface BleDriverOptions {
  /** The scanner; default: @stoprocent/noble, loaded only when the BLE driver starts. */
  scanner?: () => BleScanner | Promise<BleScanner>;
  /** Manufacturer company identifier of the band adverts (default BLE_COMPANY_ID). */
  companyId?: number;
  /** Clock for sample times (tests replay recorded times). */
  now?: () => number;
}

/** Thrown when the BLE stack cannot be loaded (optional dependency missing, native part not built). */
export class BleUnavailableError extends Error {}

/**
 * Loads noble lazily: it is an optional dependency with a native part, so a build without it (or a
 * machine without Bluetooth) still runs the other drivers. The packaged executables find it beside
 * themselves (loadNativeModule).
 */
export async function loadNoble(): Promise<BleScanner> {
  try {
    return loadNativeModule('@stoprocent/noble') as BleScanner;
  } catch (e) {
    throw new BleUnavailableError(
      `the BLE driver needs @stoprocent/noble and its native Bluetooth binding: ${(e as Error).message}`,
    );
  }
}

/**
 * BLE adapter driver: scans continuously (duplicates on, so every advert counts as one RSSI sample) and
 * turns each Tapgate band advert into a BLE sample. The endpoint node relays the samples as adverts and
 * feeds them to the BLE tap detector. Adverts of other devices and malformed or unknown-version band
 * adverts are ignored. A band advert carries no signature, so a BLE tap from this driver has no proof
 * and the gateway refuses it (bad_signature) until a signing channel exists (docs/protocol.md).
 */
export class BleDriver implements ReaderDriver {
  readonly name = 'ble';
  private scanner: BleScanner | undefined;
  private sink: DriverSink | undefined;
  private readonly onDiscover = (p: ScannedPeripheral) => this.discovered(p);
  private readonly onState = (state: string) => void this.stateChanged(state);
  /** Counters for status and tests: adverts used and ignored. */
  readonly counts = { samples: 0, ignored: 0 };

  constructor(private readonly opts: BleDriverOptions = {}) {}

  async start(sink: DriverSink): Promise<void> {
    const scanner = await (this.opts.scanner ?? loadNoble)();
    this.scanner = scanner;
    this.sink = sink;
    scanner.on('discover', this.onDiscover);
    scanner.on('stateChange', this.onState);
    await this.stateChanged(scanner.state);
  }

  async stop(): Promise<void> {
    const scanner = this.scanner;
    this.sink = undefined;
    this.scanner = undefined;
    if (!scanner) return;
    scanner.off('discover', this.onDiscover);
    scanner.off('stateChange', this.onState);
    await scanner.stopScanningAsync().catch(() => undefined);
  }

  /** Scans while the adapter is powered on; noble emits stateChange on adapter loss and return. */
  private async stateChanged(state: string): Promise<void> {
    if (!this.scanner) return;
    if (state !== 'poweredOn') {
      log.warn({ state }, 'Bluetooth adapter not powered on: no BLE samples until it is');
      return;
    }
    try {
      await this.scanner.startScanningAsync([], true);
      log.info('BLE scanning');
    } catch (e) {
      log.error({ err: (e as Error).message }, 'BLE scan could not start');
    }
  }

  private discovered(p: ScannedPeripheral): void {
    const advert = decodeBandAdvert(p.advertisement?.manufacturerData, this.opts.companyId);
    if (!advert || !Number.isFinite(p.rssi) || p.rssi > 20 || p.rssi < -127) {
      this.counts.ignored++;
      return;
    }
    this.counts.samples++;
    this.sink?.ble({
      bandId: advert.bandId,
      rssi: Math.round(p.rssi),
      state: advert.state,
      atMs: (this.opts.now ?? Date.now)(),
    });
  }
}
