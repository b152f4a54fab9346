// Shared helpers for the deployment checks: where the repository is, and reading its files.
import { readFileSync, readdirSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { parse } from 'yaml';

/** tests/deploy/dist/<file>.js -> the repository root. */
export const repoRoot = resolve(__dirname, '../../..');
export const chartDir = join(repoRoot, 'charts/tapgate');

export function readRepoFile(rel: string): string {
  return readFileSync(join(repoRoot, rel), 'utf8');
}

export function readYaml(rel: string): unknown {
  return parse(readRepoFile(rel)) as unknown;
}

export type JsonMap = Record<string, unknown>;

export function isMap(v: unknown): v is JsonMap {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Whether `path` names an existing key (its value may be empty, false or null). */
export function hasPath(root: unknown, path: readonly string[]): boolean {
  let node = root;
  for (const key of path) {
    if (!isMap(node) || !Object.hasOwn(node, key)) return false;
    node = node[key];
  }
  return true;
}

export function getPath(root: unknown, path: readonly string[]): unknown {
  let node = root;
  for (const key of path) node = isMap(node) ? node[key] : undefined;
  return node;
}

/** Helm's merge of a values file over the defaults: maps merge, everything else (lists too) replaces. */
export function mergeValues(base: unknown, override: unknown): unknown {
  if (!isMap(base) || !isMap(override)) return structuredClone(override);
  const out: JsonMap = structuredClone(base);
  for (const [key, value] of Object.entries(override)) {
    if (value === null) delete out[key];
    else out[key] = key in out ? mergeValues(out[key], value) : structuredClone(value);
  }
  return out;
}

/** Files under a repository folder (relative paths), skipping node_modules, dist and .git. */
export function listRepoFiles(dirRel: string): string[] {
  const out: string[] = [];
  const walk = (abs: string): void => {
    for (const entry of readdirSync(abs, { withFileTypes: true })) {
      if (['node_modules', 'dist', '.git'].includes(entry.name)) continue;
      const full = join(abs, entry.name);
      if (entry.isDirectory()) walk(full);
      else out.push(relative(repoRoot, full));
    }
  };
  walk(join(repoRoot, dirRel));
  return out.sort();
}
