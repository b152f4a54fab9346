import { SoftwareBand, exportBandPublicKeyJwk } from '@tapgate/band';
import { decodeServerFrame, encodeClientFrame, type ServerMessage } from '@tapgate/contracts';
import { AgentClient } from '@tapgate/endpoint-node';
import { waitFor, type Platform } from '@tapgate/testing';
import WebSocket from 'ws';

/** Registers a terminal through the policy API and connects a real endpoint client for it. */
export async function connectTerminal(platform: Platform, terminalId: string): Promise<AgentClient> {
  const t = await platform.api<{ credential: string }>('POST', '/v1/terminals', { terminalId });
  const ep = new AgentClient({
    url: `ws://127.0.0.1:${platform.ports.agent}/socket/websocket`,
    terminalId,
    credential: t.credential,
  });
  platform.closeOnStop(() => ep.stop());
  ep.start();
  await waitFor(() => ep.connected, { what: `endpoint ${terminalId} connected` });
  return ep;
}

/** Enrolls a new software band to a user through the policy API; the band is clasped and authenticated. */
export async function enrollBand(platform: Platform, sAMAccountName: string): Promise<SoftwareBand> {
  const band = SoftwareBand.generate();
  await platform.api('POST', '/v1/enrollments', {
    bandId: band.bandId,
    user: { sAMAccountName },
    publicKey: exportBandPublicKeyJwk(band.publicKey),
  });
  band.clasp();
  band.authenticate();
  return band;
}

const appCredentials = new WeakMap<Platform, Promise<string>>();

/**
 * The credential of an application registered through the policy API for every terminal: NEA clients
 * that bind explicitly must be one (docs/security.md).
 */
export function applicationCredential(platform: Platform): Promise<string> {
  let c = appCredentials.get(platform);
  if (!c) {
    c = platform
      .api<{ credential: string }>('POST', '/v1/applications', {
        applicationId: 'e2e-nea',
        displayName: 'end-to-end test NEA',
        terminals: ['*'],
      })
      .then((r) => r.credential);
    appCredentials.set(platform, c);
  }
  return c;
}

/** An NEA client as a browser page would be: it records every frame. */
export class Nea {
  readonly frames: ServerMessage[] = [];
  private constructor(readonly ws: WebSocket) {
    ws.on('error', () => undefined);
    ws.on('message', (d: Buffer) => {
      const m = decodeServerFrame(d.toString('utf8'));
      if (!(m instanceof Error)) this.frames.push(m);
    });
  }

  static async open(platform: Platform, terminalId: string): Promise<Nea> {
    const credential = await applicationCredential(platform);
    const ws = new WebSocket(`ws://127.0.0.1:${platform.ports.webapi}/`);
    platform.closeOnStop(() => ws.terminate());
    await new Promise((r, j) => {
      ws.once('open', r);
      ws.once('error', j);
    });
    const nea = new Nea(ws);
    ws.send(encodeClientFrame('hello', { role: 'nea', terminalId, credential }, 'h'));
    await waitFor(() => nea.frames.some((f) => f.type === 'welcome'));
    return nea;
  }

  async tapFor(bandId: string, from = 0): Promise<Extract<ServerMessage, { type: 'tap' }>> {
    return waitFor(() =>
      this.frames
        .slice(from)
        .find(
          (f): f is Extract<ServerMessage, { type: 'tap' }> => f.type === 'tap' && f.data.bandId === bandId,
        ),
    );
  }

  close(): void {
    this.ws.close();
  }
}

export function tap(ep: AgentClient, band: SoftwareBand) {
  return ep.tap({
    kind: 'nfc',
    bandId: band.bandId,
    sign: (c, t) => band.answerTap({ challenge: c, terminalId: t }),
  });
}
