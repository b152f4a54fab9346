// Lets Node import the k6 scripts' libraries: module hooks resolve `k6` and `k6/...` to small stand-ins
// in tests/deploy/k6-stand-ins (Node's fetch, WebSocket and timers behind k6's names).
import { registerHooks } from 'node:module';
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

let installed = false;

export function useK6StandIns(): void {
  if (installed) return;
  installed = true;
  registerHooks({
    resolve(specifier, context, nextResolve) {
      const file = STAND_INS[specifier];
      if (file === undefined) return nextResolve(specifier, context);
      return { url: pathToFileURL(join(standInDir, file)).href, format: 'module', shortCircuit: true };
    },
  });
}

/** Imports a file of k6/ (or of the stand-ins) as an ES module. */
export async function importRepoModule<T>(rel: string): Promise<T> {
  return (await import(pathToFileURL(join(repoRoot, rel)).href)) as T;
}
