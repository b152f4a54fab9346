import { SoftwareBand } from '@tapgate/band';
import type { EndpointDriver } from '@tapgate/config';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { BleDriver } from './ble';
import type { ReaderDriver } from './driver';
import { SimulatedDriver } from './simulated';

/** Thrown for an nbe.toml `driver` this build cannot run (the endpoint exits with status 2). */
export class DriverUnavailableError extends Error {}

/** The reader driver nbe.toml's `driver` names. */
export function createDriver(driver: EndpointDriver, opts: { bandsDir?: string }): ReaderDriver {
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
      throw new DriverUnavailableError(`driver "${driver}" is not available in this build`);
  }
}
