import { REPO_ROOT } from '@tapgate/testing';
import { readFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, join } from 'node:path';
import { PomsnetServer } from './pomsnet-server';

/** What the page needs to know, injected into it as window.DEMO (POMSnet's parameters come from the URL). */
export interface PageConfig {
  terminalId: string;
  agentPort: number;
  /** The assertion audience the page asks for and the POMSnet server expects. */
  audience: string;
  bands: Record<string, string>;
  /** The `bands` entry of the band that is not enrolled (for enrolling by tap), when there is one. */
  newBand?: string;
}

export interface PageServerOptions {
  port: number;
  config: PageConfig;
  /** The endpoint node's control port (loopback), which drives the simulated reader. */
  controlPort: number;
  jwksUrl: string;
}

export interface RunningPageServer {
  readonly url: string;
  readonly pomsnet: PomsnetServer;
  close(): Promise<void>;
}

const MAX_BODY = 16 * 1024;
const SDK_DIR = join(dirname(require.resolve('@tapgate/nea-client/package.json')), 'dist', 'esm');
const PAGE_FILE = join(REPO_ROOT, 'tools/demo/public/index.html');
const BAND_ACTION = /^\/api\/bands\/([A-Za-z0-9_-]{1,64})\/(tap|authenticate|clasp|remove|approach)$/;
const SDK_FILE = /^\/tapgate\/([a-z-]+\.js(?:\.map)?)$/;

function send(
  res: ServerResponse,
  status: number,
  body: unknown,
  type = 'application/json',
  headers: Record<string, string> = {},
): void {
  res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store', ...headers });
  res.end(typeof body === 'string' ? body : JSON.stringify(body));
}

/** The page session's pending nonce lives in an HttpOnly cookie: script on the page cannot swap it. */
const NONCE_COOKIE = { login: 'pomsnet_login_nonce', esign: 'pomsnet_esign_nonce' } as const;

function nonceCookie(name: string, nonce: string): Record<string, string> {
  return { 'set-cookie': `${name}=${nonce}; HttpOnly; SameSite=Strict; Path=/pomsnet` };
}

function cookie(req: IncomingMessage, name: string): string | undefined {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const [k, v] = part.trim().split('=', 2);
    if (k === name && v) return v;
  }
  return undefined;
}

async function readBody(req: IncomingMessage): Promise<string> {
  let size = 0;
  const chunks: Buffer[] = [];
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY) throw new Error('body too large');
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * The demo NEA's web server: the POMSnet-like page, the SDK as an ES module, a proxy to the simulated
 * reader, and the "POMSnet server" endpoints that verify assertions against the gateway's JWKS.
 */
export async function startPageServer(opts: PageServerOptions): Promise<RunningPageServer> {
  const pomsnet = new PomsnetServer(opts.jwksUrl, opts.config.audience);
  const configScript = `window.DEMO = ${JSON.stringify(opts.config).replace(/</g, '\\u003c')};`;

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const path = url.pathname;
    if (req.method === 'GET' && (path === '/' || path === '/index.html')) {
      // Read on every request, so that edits to the page show on reload.
      const page = (await readFile(PAGE_FILE, 'utf8')).replace('/*DEMO_CONFIG*/', configScript);
      return send(res, 200, page, 'text/html; charset=utf-8');
    }
    const sdk = SDK_FILE.exec(path);
    if (req.method === 'GET' && sdk) {
      const text = await readFile(join(SDK_DIR, sdk[1]), 'utf8').catch(() => undefined);
      if (text === undefined) {
        return send(res, 404, { error: 'not built: npx tsc -b libs/nea-client/tsconfig.esm.json' });
      }
      return send(
        res,
        200,
        text,
        sdk[1].endsWith('.map') ? 'application/json' : 'text/javascript; charset=utf-8',
      );
    }
    if (req.method === 'GET' && path === '/pomsnet/session') return send(res, 200, pomsnet.session());
    if (req.method !== 'POST') return send(res, 404, { error: 'not found' });
    if (path === '/pomsnet/login/begin') {
      const nonce = pomsnet.beginLogin();
      return send(res, 200, { nonce }, undefined, nonceCookie(NONCE_COOKIE.login, nonce));
    }
    if (path === '/pomsnet/login') {
      const answer = await pomsnet.verifyLogin(await readBody(req), cookie(req, NONCE_COOKIE.login));
      return send(res, answer.signedIn ? 200 : 401, answer);
    }
    if (path === '/pomsnet/esign/begin') {
      const body = JSON.parse(await readBody(req)) as Record<string, unknown>;
      if (
        typeof body.reason !== 'string' ||
        (body.comment !== undefined && typeof body.comment !== 'string') ||
        typeof body.secondSignerRequired !== 'boolean'
      ) {
        return send(res, 400, { error: 'reason, comment and secondSignerRequired expected' });
      }
      const opened = pomsnet.beginEsign({
        reason: body.reason,
        comment: body.comment,
        secondSignerRequired: body.secondSignerRequired,
      });
      return send(res, 200, opened, undefined, nonceCookie(NONCE_COOKIE.esign, opened.nonce));
    }
    if (path === '/pomsnet/logout') return send(res, 200, pomsnet.signOut());
    if (path === '/pomsnet/esign') {
      const body = JSON.parse(await readBody(req)) as { ceremonyId?: unknown; assertions?: unknown };
      if (typeof body.ceremonyId !== 'string' || !Array.isArray(body.assertions)) {
        return send(res, 400, {
          signed: false,
          reason: 'malformed',
          detail: 'ceremonyId and assertions expected',
        });
      }
      const answer = await pomsnet.verifyEsign(
        body.ceremonyId,
        body.assertions.map(String),
        cookie(req, NONCE_COOKIE.esign),
      );
      return send(res, answer.signed ? 200 : 401, answer);
    }
    // The page drives the simulated reader through this proxy (the control port is loopback-only).
    const band = BAND_ACTION.exec(path);
    if (band) {
      const r = await fetch(`http://127.0.0.1:${opts.controlPort}/bands/${band[1]}/${band[2]}`, {
        method: 'POST',
        body: '{}',
      });
      return send(res, r.status, await r.text());
    }
    send(res, 404, { error: 'not found' });
  }

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((e: unknown) => {
      if (!res.headersSent) send(res, 400, { error: e instanceof Error ? e.message : String(e) });
      else res.end();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/`,
    pomsnet,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
