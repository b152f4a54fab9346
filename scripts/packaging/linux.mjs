// Builds the endpoint node for Linux thin clients as dist/packages/linux/tapgate-endpoint_<v>_amd64.deb
// (docs/operations.md, "Installing the endpoint node on Linux"): the node as one executable (the project's
// Node binary with the SEA blob injected, so the thin client needs no Node), a hardened systemd unit, and
// maintainer scripts that create the service user and /usr/bin/nbe.toml (the guide's place).
// Usage: npm run package:linux   (after npm run build; needs dpkg-deb).
import { execFileSync } from 'node:child_process';
import {
  chmodSync,
  copyFileSync,
  mkdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import {
  NODE_VERSION,
  ROOT,
  buildSeaBlob,
  checkNode,
  injectBlob,
  installBleStack,
  installPcscBinding,
  reporter,
} from './sea.mjs';

const { say, fail } = reporter('package:linux');
checkNode(fail);
if (process.platform !== 'linux' || process.arch !== 'x64')
  fail('builds on linux-x64 only (the node binary is injected)');
const version = JSON.parse(readFileSync(join(ROOT, 'services/endpoint-node/package.json'), 'utf8')).version;
const out = join(ROOT, 'dist/packages/linux');
const work = join(ROOT, 'dist/packages/linux-build');
const tree = join(work, 'root');
rmSync(work, { recursive: true, force: true });
rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });

say('bundling the endpoint node and making the SEA blob');
const blob = await buildSeaBlob(work);
const lib = join(tree, 'usr/lib/tapgate-endpoint');
const doc = join(tree, 'usr/share/doc/tapgate-endpoint');
for (const d of [lib, doc, join(tree, 'usr/bin'), join(tree, 'lib/systemd/system'), join(tree, 'DEBIAN')]) {
  mkdirSync(d, { recursive: true });
}
const exe = join(lib, 'tapgate-endpoint');
await injectBlob(process.execPath, exe, blob);
chmodSync(exe, 0o755);
installBleStack(lib, 'linux', say);
installPcscBinding(lib, say, fail);
symlinkSync('../lib/tapgate-endpoint/tapgate-endpoint', join(tree, 'usr/bin/tapgate-endpoint'));
copyFileSync(
  join(ROOT, 'packaging/linux/tapgate-endpoint.service'),
  join(tree, 'lib/systemd/system/tapgate-endpoint.service'),
);
copyFileSync(join(ROOT, 'packaging/nbe.toml.example'), join(doc, 'nbe.toml.example'));
writeFileSync(
  join(doc, 'README'),
  'Tapgate endpoint node. Configure /usr/bin/nbe.toml (agent_url, terminal_id, credential_file under\n' +
    '/etc/tapgate-endpoint), check it with `tapgate-endpoint check --config /usr/bin/nbe.toml`, then\n' +
    '`systemctl start tapgate-endpoint`. Full text: docs/operations.md of the Tapgate repository.\n',
);
writeFileSync(
  join(doc, 'copyright'),
  'Tapgate: Apache-2.0. Includes Node.js (MIT and the licenses of its bundled dependencies) and the npm\n' +
    'dependencies of the endpoint node, bundled (see their package.json licenses); beside the executable\n' +
    'in /usr/lib/tapgate-endpoint/node_modules: @stoprocent/noble (MIT) and @pokusew/pcsclite (ISC) with\n' +
    'their license files.\n',
);
for (const script of ['postinst', 'prerm', 'postrm']) {
  copyFileSync(join(ROOT, 'packaging/linux', script), join(tree, 'DEBIAN', script));
  chmodSync(join(tree, 'DEBIAN', script), 0o755);
}
const installedKb = Math.ceil(
  Number(execFileSync('du', ['-sk', '--exclude=DEBIAN', tree]).toString().split('\t')[0]),
);
writeFileSync(
  join(tree, 'DEBIAN/control'),
  `Package: tapgate-endpoint
Version: ${version}
Architecture: amd64
Maintainer: Tapgate <tapgate@localhost>
Section: net
Priority: optional
Installed-Size: ${installedKb}
Depends: adduser, libc6 (>= 2.28), libstdc++6, libpcsclite1
Recommends: bluez, pcscd
Description: Tapgate endpoint node for Linux thin clients
 Reads taps from the terminal's BLE adapter or PC/SC NFC readers (or the simulated driver) and sends
 them to the Tapgate gateway. One executable (Node ${NODE_VERSION} with the endpoint node built in), the
 native BLE and PC/SC bindings beside it, and a hardened systemd unit reading /usr/bin/nbe.toml.
`,
);
const deb = join(out, `tapgate-endpoint_${version}_amd64.deb`);
say('building the .deb');
execFileSync('dpkg-deb', ['--root-owner-group', '-Zgzip', '-z9', '--build', tree, deb], {
  stdio: ['ignore', 'ignore', 'inherit'],
});
rmSync(work, { recursive: true, force: true });
say(`built ${deb}: ${statSync(deb).size} bytes`);
