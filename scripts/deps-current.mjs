// Says whether node_modules already holds exactly what package-lock.json asks for, without the network.
// npm writes node_modules/.package-lock.json (its "hidden lockfile") at the end of every install, so it is
// present after `npm ci` or `npm install` whoever ran them; an install cut short does not write it.
// Exit 0: up to date (no install needed). Exit 1: an install is needed (the reason on stderr).
// Runs on any Node >= 18 (it is used before the repository's own Node 24 is installed).
// Usage: node scripts/deps-current.mjs [repository directory]
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const root = process.argv[2] ?? process.cwd();

function stale(why) {
  process.stderr.write(`node_modules is not up to date: ${why}\n`);
  process.exit(1);
}

function readJson(file) {
  try {
    return JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    return stale(`${file} cannot be read (${e.code ?? e.message})`);
  }
}

const wanted = readJson(join(root, 'package-lock.json')).packages ?? {};
const hiddenFile = join(root, 'node_modules', '.package-lock.json');
if (!existsSync(hiddenFile)) stale('no node_modules/.package-lock.json (never installed, or cut short)');
const installed = readJson(hiddenFile).packages ?? {};

// The optional dependencies our own workspaces declare for every platform (the PC/SC binding): one
// missing was added to the lock after this node_modules was installed, so it must be installed now.
const ownOptional = new Set();
for (const [path, entry] of Object.entries(wanted)) {
  if (path === '' || path.startsWith('node_modules/')) continue;
  for (const name of Object.keys(entry.optionalDependencies ?? {})) ownOptional.add(`node_modules/${name}`);
}
const anyPlatform = (entry) => !entry.os && !entry.cpu && !entry.libc;

// Same entries, same content. The root entry ("") is only in package-lock.json; optional packages for
// another platform (e.g. a darwin-only binary) are in the lock but never installed, as with `npm ci`.
for (const [path, entry] of Object.entries(wanted)) {
  if (path === '') continue;
  const have = installed[path];
  if (have === undefined) {
    if (entry.optional && !(ownOptional.has(path) && anyPlatform(entry))) continue;
    stale(`${path} is missing`);
  }
  if (JSON.stringify(have) !== JSON.stringify(entry)) stale(`${path} differs from package-lock.json`);
}
for (const path of Object.keys(installed)) {
  if (!(path in wanted)) stale(`${path} is installed but not in package-lock.json`);
}
// And on disk: a package folder removed by hand since the install is caught here.
for (const [path, entry] of Object.entries(installed)) {
  if (!existsSync(join(root, path, entry.link ? '' : 'package.json'))) stale(`${path} is not on disk`);
}
if (!existsSync(join(root, 'node_modules', '.bin', 'node'))) stale('node_modules/.bin/node is missing');
process.exit(0);
