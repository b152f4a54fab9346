// The endpoint node as a Node single executable application (SEA): one bundle, one blob, injected into a
// node binary of the same Node version. Shared by the Windows and Linux packages (scripts/packaging/).
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, cpSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const require = createRequire(join(ROOT, 'package.json'));
const rootPackage = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));
/** The Node version of every executable: the root package.json `node` devDependency. */
export const NODE_VERSION = rootPackage.devDependencies.node;
/** Which sentinel postject flips so node runs the injected blob (fixed by Node for all SEAs). */
export const SEA_FUSE = 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2';
const PINS = JSON.parse(readFileSync(join(ROOT, 'packaging/downloads.json'), 'utf8'));
const CACHE = process.env.TAPGATE_PACKAGE_CACHE ?? join(ROOT, 'node_modules/.cache/tapgate-packaging');

export function reporter(name) {
  return {
    say: (text) => console.log(`${name}: ${text}`),
    fail: (text) => {
      console.error(`${name}: ${text}`);
      process.exit(1);
    },
  };
}

/** Stops unless run by the project's Node (the blob must come from the same version as the binary). */
export function checkNode(fail) {
  if (process.versions.node !== NODE_VERSION) {
    fail(
      `run with the project's Node ${NODE_VERSION} (npm run puts it on PATH), not ${process.versions.node}`,
    );
  }
  if (!existsSync(join(ROOT, 'services/endpoint-node/dist/main.js'))) {
    fail('services/endpoint-node is not built: run npm run build first');
  }
}

/** Bundles services/endpoint-node/dist/main.js into one CommonJS file and makes the SEA blob from it. */
export async function buildSeaBlob(work) {
  mkdirSync(work, { recursive: true });
  const bundle = join(work, 'tapgate-endpoint.cjs');
  await require('esbuild').build({
    entryPoints: [join(ROOT, 'services/endpoint-node/dist/main.js')],
    bundle: true,
    platform: 'node',
    target: `node${NODE_VERSION.split('.')[0]}`,
    format: 'cjs',
    outfile: bundle,
    // noble and the PC/SC binding have native parts that cannot live inside the executable: they are
    // loaded from beside it (docs/operations.md). ws's optional native helpers are absent and ws falls
    // back to JavaScript.
    external: ['@stoprocent/noble', '@pokusew/pcsclite', 'bufferutil', 'utf-8-validate'],
    logLevel: 'warning',
    legalComments: 'none',
  });
  const blob = join(work, 'sea-prep.blob');
  const config = join(work, 'sea-config.json');
  // Code cache and snapshot are specific to the building platform: off, so one blob serves every target.
  writeFileSync(
    config,
    JSON.stringify({
      main: bundle,
      output: blob,
      disableExperimentalSEAWarning: true,
      useSnapshot: false,
      useCodeCache: false,
    }),
  );
  execFileSync(process.execPath, ['--experimental-sea-config', config], {
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  return blob;
}

/** Copies a node binary to `exe` and injects the blob (postject); the result runs the endpoint node. */
export async function injectBlob(nodeBinary, exe, blob) {
  copyFileSync(nodeBinary, exe);
  await require('postject').inject(exe, 'NODE_SEA_BLOB', readFileSync(blob), {
    sentinelFuse: SEA_FUSE,
  });
}

/**
 * `npm pack`s name@version into the download cache once, checks it against the integrity pinned in
 * packaging/downloads.json, and returns the unpacked package folder.
 */
export function fetchPinnedPackage(name, version, say, fail) {
  const pin = PINS[name]?.[version];
  if (!pin) fail(`packaging/downloads.json pins no integrity for ${name}@${version}; add it`);
  const tgz = join(CACHE, `${name}-${version}.tgz`);
  const dir = join(CACHE, `${name}-${version}`);
  if (!existsSync(tgz)) {
    mkdirSync(CACHE, { recursive: true });
    say(`fetching ${name}@${version} with npm pack`);
    execFileSync('npm', ['pack', `${name}@${version}`, '--pack-destination', CACHE, '--silent'], {
      stdio: ['ignore', 'ignore', 'inherit'],
    });
  }
  const integrity = `sha512-${createHash('sha512').update(readFileSync(tgz)).digest('base64')}`;
  if (integrity !== pin) {
    rmSync(tgz, { force: true });
    rmSync(dir, { recursive: true, force: true });
    fail(`${name}@${version}: integrity ${integrity} is not the pinned ${pin}`);
  }
  if (!existsSync(join(dir, 'package/package.json'))) {
    mkdirSync(dir, { recursive: true });
    execFileSync('tar', ['-xzf', tgz, '-C', dir]);
  }
  return join(dir, 'package');
}

export function sha256File(file) {
  return createHash('sha256').update(readFileSync(file)).digest('hex');
}

/**
 * Installs the BLE stack (@stoprocent/noble at the endpoint node's pinned version, with its prebuilt
 * native bindings for `os`) into `dir`/node_modules: the executable loads it from beside itself, since
 * native addons cannot live inside a single executable. Install scripts stay off (prebuilds are used).
 */
export function installBleStack(dir, os, say) {
  const pkg = JSON.parse(readFileSync(join(ROOT, 'services/endpoint-node/package.json'), 'utf8'));
  const version = pkg.optionalDependencies['@stoprocent/noble'];
  say(`installing @stoprocent/noble@${version} for ${os}-x64 beside the executable`);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'package.json'), '{ "private": true }\n');
  execFileSync(
    'npm',
    [
      'install',
      '--prefix',
      dir,
      '--ignore-scripts',
      '--no-audit',
      '--no-fund',
      '--no-package-lock',
      '--omit=dev',
      `--os=${os}`,
      '--cpu=x64',
      '--loglevel=error',
      `@stoprocent/noble@${version}`,
    ],
    { stdio: ['ignore', 'ignore', 'inherit'] },
  );
  rmSync(join(dir, 'package.json'));
}

/**
 * Copies the PC/SC binding (@pokusew/pcsclite with its runtime dependencies) into `dir`/node_modules,
 * where the executable loads it from. It publishes no prebuilt binaries: the copy is the one
 * scripts/install-deps.sh compiled against the project's Node headers (npm_config_nodedir), so it is
 * loaded here first, by the same Node version the executable embeds, to prove it fits. Linux only.
 */
export function installPcscBinding(dir, say, fail) {
  const pcsclite = dirname(require.resolve('@pokusew/pcsclite/package.json'));
  // Its dependencies as it resolves them (whichever copy npm placed for it).
  const requireFromPcsclite = createRequire(join(pcsclite, 'package.json'));
  const bindings = dirname(requireFromPcsclite.resolve('bindings/package.json'));
  const fileUri = dirname(
    createRequire(join(bindings, 'package.json')).resolve('file-uri-to-path/package.json'),
  );
  const addon = join(pcsclite, 'build/Release/pcsclite.node');
  try {
    require(addon);
  } catch (e) {
    fail(
      `the PC/SC binding ${addon} does not load in Node ${NODE_VERSION} (${e.message.split('\n')[0]}): ` +
        'install libpcsclite-dev and run scripts/setup.sh',
    );
  }
  const version = JSON.parse(readFileSync(join(pcsclite, 'package.json'), 'utf8')).version;
  say(`copying @pokusew/pcsclite@${version} (built for Node ${NODE_VERSION}) beside the executable`);
  // What the binding needs at run time: its JavaScript, the addon, and `bindings` (which finds the
  // addon) with its one dependency. Sources, build intermediates, tests and nan (headers) stay out.
  const packages = [
    ['@pokusew/pcsclite', pcsclite, ['package.json', 'LICENSE.md', 'lib', 'build/Release/pcsclite.node']],
    ['bindings', bindings, ['package.json', 'LICENSE.md', 'bindings.js']],
    ['file-uri-to-path', fileUri, ['package.json', 'LICENSE', 'index.js']],
  ];
  for (const [name, source, files] of packages) {
    // One copy per package in one node_modules: never overwrite what the BLE stack brought.
    if (existsSync(join(dir, 'node_modules', name))) {
      fail(`${name} is in ${dir}/node_modules already (from the BLE stack): resolve the two copies first`);
    }
    for (const f of files) {
      cpSync(join(source, f), join(dir, 'node_modules', name, f), { recursive: true });
    }
  }
}
