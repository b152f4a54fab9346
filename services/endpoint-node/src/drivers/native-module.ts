import { createRequire } from 'node:module';
import { isSea } from 'node:sea';

/**
 * Loads an optional package with a native part (the BLE and PC/SC bindings). Native addons cannot live
 * inside a single executable, so the packages (docs/operations.md) ship them in a node_modules folder
 * beside the executable: the lookup goes from this module's node_modules (a source install), then from
 * the executable's folder (process.execPath is the resolved executable, so a /usr/bin symlink to it
 * still finds /usr/lib/tapgate-endpoint/node_modules).
 */
export function loadNativeModule(name: string): unknown {
  const errors: string[] = [];
  for (const from of [__filename, process.execPath]) {
    try {
      return createRequire(from)(name);
    } catch (e) {
      errors.push((e as Error).message.split('\n')[0]);
    }
  }
  throw new Error([...new Set(errors)].join('; '));
}

/** True when running as the packaged single executable (not from a source install). */
export function runningAsSingleExecutable(): boolean {
  return isSea();
}
