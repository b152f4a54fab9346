/**
 * A preload for service processes under test (`NODE_OPTIONS=--require .../memory-probe.js`, see
 * `memoryProbeNodeOptions`): a loopback HTTP server that, on GET, collects garbage fully and answers the
 * process's memory figures, so a test can tell memory the JavaScript heap still holds (heapUsed after a
 * full GC) from pages the allocator keeps (RSS). It writes its port to `memoryProbePortFile(pid)`.
 * Test-only: nothing in a service imports it.
 */
import { writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { memoryProbePortFile } from './memory-probe-client';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as (opts?: { type: string; execution: string; flavor: string }) => void;

const server = createServer((req, res) => {
  // "last-resort" is V8's low-memory collection: it also releases the free pages V8 keeps for reuse.
  const full = () =>
    req.url?.includes('last-resort') ? gc({ type: 'major', execution: 'sync', flavor: 'last-resort' }) : gc();
  // Two passes: the first may only queue finalizers (e.g. of closed sockets) that free more.
  full();
  setImmediate(() => {
    full();
    const m = process.memoryUsage();
    res.setHeader('content-type', 'application/json');
    res.end(
      JSON.stringify({
        rss: m.rss,
        heapUsed: m.heapUsed,
        heapTotal: m.heapTotal,
        external: m.external,
        arrayBuffers: m.arrayBuffers,
        // Prototype pollution would show as new members of Object.prototype.
        objectPrototypeKeys: Object.getOwnPropertyNames(Object.prototype).length,
      }),
    );
  });
});
server.listen(0, '127.0.0.1', () => {
  const addr = server.address();
  if (addr && typeof addr === 'object') writeFileSync(memoryProbePortFile(process.pid), String(addr.port));
});
server.unref();
