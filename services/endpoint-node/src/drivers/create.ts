import { SoftwareBand } from '@tapgate/band';
import type { EndpointDriver } from '@tapgate/config';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { BleDriver } from './ble';
import type { ReaderDriver } from './driver';
import { PcscDriver, type PcscDriverOptions } from './pcsc';
import { SimulatedDriver } from './simulated';

/** The reader driver nbe.toml's `driver` names. */
export function createDriver(
  driver: EndpointDriver,
  opts: { bandsDir?: string; nfc: PcscDriverOptions },
): ReaderDriver {
  switch (driver) {
    case 'simulated': {
      const simulated = new SimulatedDriver();
      if (opts.bandsDir) {
        for (const f of readdirSync(opts.bandsDir).filter((n) => n.endsWith('.json'))) {
          simulated.addBand(SoftwareBand.loadOrCreate(join(opts.bandsDir, f)));
        }
      }
      return simulated;
    }
    case 'ble':
      return new BleDriver();
    case 'nfc':
      return new PcscDriver(opts.nfc);
  }
}
