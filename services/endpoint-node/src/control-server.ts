import { approach, exportBandPublicKeyJwk, hold, leave, RssiScript, SoftwareBand } from '@tapgate/band';
import { createLogger } from '@tapgate/telemetry';
import type { JsonWebKey } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AgentClient } from './agent-client';
import type { SimulatedDriver } from './drivers/simulated';
import type { EndpointNode, TapRecord } from './endpoint-node';

const log = createLogger('control');
const MAX_BODY = 64 * 1024;

/**
 * The simulated driver's local control port (127.0.0.1 only): the demo page and the CLI trigger taps,
 * authenticate or remove bands and script RSSI through it. It is never exposed beyond the loopback.
 *
 *   GET  /status                      terminal, connection, bands, recent taps
 *   POST /bands                       {"jwk": {...}} or {} (generate) -> {"bandId", "publicKey"}
 *   POST /bands/:id/tap               NFC tap -> the gateway's decision (or, while an enrollment session is
 *                                     armed, the enrollment answer: {"enrollment": {...}})
 *   POST /bands/:id/clasp | /authenticate | /remove
 *   POST /bands/:id/rssi              {"rssi": -60} (or null: out of range)
 *   POST /bands/:id/approach          replays approach-hold-leave; a BLE tap if the threshold allows
 *   POST /uid/:hex/tap                plain NFC badge -> the decision (or the enrollment answer)
 */
export function startControlServer(
  port: number,
  terminalId: string,
  driver: SimulatedDriver,
  node: EndpointNode,
  client: AgentClient,
): Promise<Server> {
  const server = createServer((req, res) => {
    void handle(req, res).catch((e: unknown) => reply(res, 400, { error: (e as Error).message }));
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const parts = url.pathname.split('/').filter(Boolean);
    if (req.method === 'GET' && url.pathname === '/status') {
      return reply(res, 200, {
        terminalId,
        connected: client.connected,
        enrollment: client.enrollment ?? null,
        bands: driver.list(),
        recent: node.recent,
      });
    }
    if (req.method !== 'POST') return reply(res, 405, { error: 'use POST' });
    const body = await readJson(req);
    if (parts[0] === 'bands' && parts.length === 1) {
      const band =
        body.jwk && typeof body.jwk === 'object'
          ? SoftwareBand.fromJwk(body.jwk as JsonWebKey)
          : SoftwareBand.generate();
      driver.addBand(band);
      return reply(res, 201, { bandId: band.bandId, publicKey: exportBandPublicKeyJwk(band.publicKey) });
    }
    if (parts[0] === 'uid' && parts[2] === 'tap') {
      return answer(res, await node.tapNfc({ uid: parts[1] }));
    }
    if (parts[0] !== 'bands' || parts.length !== 3) return reply(res, 404, { error: 'unknown route' });
    const [, bandId, action] = parts;
    const band = driver.band(bandId);
    switch (action) {
      case 'tap':
        // This tap's own record: with taps running concurrently, recent[0] may be another one.
        return answer(res, await node.tapNfc(driver.read(bandId)));
      case 'clasp':
        band.clasp();
        return reply(res, 200, { state: band.state });
      case 'authenticate':
        band.authenticate();
        return reply(res, 200, { state: band.state });
      case 'remove':
        band.remove();
        return reply(res, 200, { state: band.state });
      case 'rssi':
        driver.setRssi(bandId, typeof body.rssi === 'number' ? body.rssi : undefined);
        return reply(res, 200, { rssi: body.rssi ?? null });
      case 'approach': {
        const script = RssiScript.fromSegments([
          approach(-80, -38, 1500),
          hold(-38, 1500),
          leave(-38, -85, 1000),
        ]);
        void driver.play(bandId, script);
        return reply(res, 202, { playing: true, durationMs: script.endMs - script.startMs });
      }
      default:
        return reply(res, 404, { error: `unknown action ${action}` });
    }
  }

  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      log.info({ port }, 'simulated driver control port listening on 127.0.0.1');
      resolve(server);
    });
  });
}

/**
 * A tap's own outcome: the decision, the enrollment answer ({"enrollment": ...}), 409 with the terminal's
 * own refusal ({"refused": {reason, message}}), or 502 with the error.
 */
function answer(res: ServerResponse, tap: TapRecord): void {
  if (tap.result) return reply(res, 200, tap.result);
  if (tap.enrollment) return reply(res, 200, { enrollment: tap.enrollment });
  // Refused at the terminal itself (the legacy switch): nothing reached the gateway.
  if (tap.refused) return reply(res, 409, { refused: tap.refused });
  reply(res, 502, { error: tap.error ?? 'tap failed' });
}

function reply(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

async function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  let size = 0;
  const chunks: Buffer[] = [];
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY) throw new Error('body too large');
    chunks.push(chunk as Buffer);
  }
  if (size === 0) return {};
  const parsed: unknown = JSON.parse(Buffer.concat(chunks).toString('utf8'));
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new Error('body must be a JSON object');
  }
  return parsed as Record<string, unknown>;
}
