import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { AssertionInput } from './signer';

/** A real HTTP server publishing a JWKS the test can swap, counting fetches. */
export async function startJwksServer(initial: unknown): Promise<{
  url: string;
  fetches: () => number;
  publish(jwks: unknown): void;
  fail(status: number | undefined): void;
  close(): Promise<void>;
}> {
  let body = JSON.stringify(initial);
  let status: number | undefined;
  let count = 0;
  const server: Server = createServer((_req, res) => {
    count += 1;
    if (status !== undefined) {
      res.writeHead(status).end();
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' }).end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/.well-known/jwks.json`,
    fetches: () => count,
    publish: (jwks) => {
      body = JSON.stringify(jwks);
    },
    fail: (s) => {
      status = s;
    },
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

export const loginClaims = (overrides: Partial<AssertionInput> = {}): AssertionInput => ({
  aud: 'https://mes.example.com/NES',
  sub: 'alice',
  tapgate: {
    kind: 'login',
    terminalId: 'LINE1-T04',
    tapId: '0b9e3f52-7c1d-4a0e-9a51-2f0f3e7b7d11',
    bandId: 'band-Qm9vZ2xlQmFuZDAx',
    displayName: 'Alice Able',
    status: 'active',
  },
  ...overrides,
});

/** A clock tests move by hand. */
export function manualClock(start = Date.parse('2026-11-29T16:31:39Z')) {
  let t = start;
  return { now: () => t, advance: (ms: number) => (t += ms) };
}
