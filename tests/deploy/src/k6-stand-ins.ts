// Lets Node import the k6 scripts' libraries: module hooks resolve `k6` and `k6/...` to small stand-ins
// in tests/deploy/k6-stand-ins (Node's fetch, WebSocket and timers behind k6's names).
import { registerHooks } from 'node:module';
import { webcrypto } from 'node:crypto';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { repoRoot } from './index';

const standInDir = join(repoRoot, 'tests/deploy/k6-stand-ins');
const STAND_INS: Record<string, string> = {
  k6: 'k6.mjs',
  'k6/metrics': 'metrics.mjs',
  'k6/timers': 'timers.mjs',
  'k6/experimental/websockets': 'websockets.mjs',
  'k6/http': 'http.mjs',
};

/**
 * Which k6 the stand-ins behave like. "current": k6 1.x (global WebCrypto, numeric readyState).
 * "v0.50": k6 v0.50.0 as the issue 13 run found it: readyState an object loosely equal to the state, no
 * global `crypto`, WebCrypto only from k6/experimental/webcrypto, and the global `require` of k6 modules.
 */
export type K6Flavour = 'current' | 'v0.50';

let installed: K6Flavour | undefined;

/** Installs the stand-ins once per process, before any k6/ file is imported. */
export function useK6StandIns(flavour: K6Flavour = 'current'): void {
  if (installed !== undefined) {
    if (installed !== flavour) throw new Error(`k6 stand-ins already installed as ${installed}`);
    return;
  }
  installed = flavour;
  const modules = { ...STAND_INS };
  if (flavour === 'v0.50') {
    modules['k6/experimental/websockets'] = 'websockets-v050.mjs';
    delete (globalThis as { crypto?: unknown }).crypto;
    (globalThis as { require?: unknown }).require = (name: string): unknown => {
      if (name === 'k6/experimental/webcrypto') return { crypto: webcrypto };
      throw new Error(`k6 v0.50 stand-in: no module ${name}`);
    };
  }
  registerHooks({
    resolve(specifier, context, nextResolve) {
      const file = modules[specifier];
      if (file === undefined) return nextResolve(specifier, context);
      return { url: pathToFileURL(join(standInDir, file)).href, format: 'module', shortCircuit: true };
    },
  });
}

/** Imports a file of k6/ (or of the stand-ins) as an ES module. */
export async function importRepoModule<T>(rel: string): Promise<T> {
  return (await import(pathToFileURL(join(repoRoot, rel)).href)) as T;
}
