import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { ConfigError } from './errors';

/** Asserts `run` throws a ConfigError at exactly this file (or the environment), key and problem. */
export function assertConfigError(
  run: () => unknown,
  expected: { file?: string; key: string; problem: string | RegExp },
): ConfigError {
  let caught: unknown;
  try {
    run();
  } catch (e) {
    caught = e;
  }
  assert.ok(caught instanceof ConfigError, `expected a ConfigError, got ${String(caught)}`);
  assert.equal(caught.name, 'ConfigError');
  assert.equal(caught.file, expected.file);
  assert.equal(caught.key, expected.key);
  if (typeof expected.problem === 'string') assert.equal(caught.problem, expected.problem);
  else assert.match(caught.problem, expected.problem);
  assert.equal(caught.message, `${expected.file ?? 'environment'}: ${expected.key}: ${caught.problem}`);
  return caught;
}

/** A temporary folder with a helper to write files into it (creating sub-folders). */
export function scratch(prefix: string) {
  const dir = mkdtempSync(join(tmpdir(), `tapgate-${prefix}-`));
  return {
    dir,
    write(name: string, content: string): string {
      const path = join(dir, name);
      mkdirSync(dirname(path), { recursive: true });
      writeFileSync(path, content);
      return path;
    },
    dispose: () => rmSync(dir, { recursive: true, force: true }),
  };
}
