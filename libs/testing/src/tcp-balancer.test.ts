import assert from 'node:assert/strict';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { sleep, waitFor } from './ports';
import { TcpBalancer } from './tcp-balancer';

/** An HTTP backend that answers its name on / and its readiness on /readyz. */
async function backend(name: string): Promise<{ server: Server; port: number; setReady(r: boolean): void }> {
  let ready = true;
  const server = createServer((req, res) => {
    if (req.url === '/readyz') res.writeHead(ready ? 200 : 503).end();
    else if (req.url === '/slow') setTimeout(() => res.end(name), 400);
    else res.end(name);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const { port } = server.address() as AddressInfo;
  return { server, port, setReady: (r) => (ready = r) };
}

/** One request on its own connection (no keep-alive pool), so each is routed anew. */
function get(port: number, path = '/'): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, agent: false }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve(body));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('TcpBalancer (a Kubernetes Service for tests)', () => {
  let a: Awaited<ReturnType<typeof backend>>;
  let b: Awaited<ReturnType<typeof backend>>;
  let lb: TcpBalancer;
  before(async () => {
    a = await backend('A');
    b = await backend('B');
    lb = new TcpBalancer(
      [a, b].map((x) => ({ host: '127.0.0.1', port: x.port, readyUrl: `http://127.0.0.1:${x.port}/readyz` })),
    );
    await lb.listen();
  });
  after(async () => {
    await lb.close();
    for (const x of [a, b]) await new Promise((r) => x.server.close(r));
  });

  it('spreads new connections over the ready backends', async () => {
    const names = [];
    for (let i = 0; i < 4; i++) names.push(await get(lb.port));
    assert.deepEqual(names.sort(), ['A', 'A', 'B', 'B']);
  });

  it('sends new connections only to ready backends, but keeps established ones', async () => {
    const slow = get(lb.port, '/slow'); // established on one of them before readiness changes
    await sleep(50);
    a.setReady(false);
    await waitFor(async () => (await Promise.all([get(lb.port), get(lb.port)])).every((n) => n === 'B'));
    for (let i = 0; i < 4; i++) assert.equal(await get(lb.port), 'B');
    assert.ok(['A', 'B'].includes(await slow));
    a.setReady(true);
  });

  it('refuses connections when no backend is ready', async () => {
    a.setReady(false);
    b.setReady(false);
    await waitFor(
      async () =>
        get(lb.port).then(
          () => false,
          () => true,
        ),
      { what: 'a refused connection' },
    );
    await assert.rejects(get(lb.port));
    a.setReady(true);
    b.setReady(true);
    await waitFor(async () => (await get(lb.port).catch(() => '')) !== '');
  });
});
