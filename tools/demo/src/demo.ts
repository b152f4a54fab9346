import { SoftwareBand, exportBandPublicKeyJwk } from '@tapgate/band';
import type { Platform, ServiceProcess } from '@tapgate/testing';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startPageServer, type RunningPageServer } from './page-server';

export interface DemoBand {
  user: string;
  /** Whether the band starts authenticated (fingerprint done). */
  authenticated: boolean;
}

export interface DemoOptions {
  /** Folder for the terminal credential, band keys, nbe.toml and logs (the platform's dir is fine). */
  dir: string;
  terminalId: string;
  /** The page's port (0: any free port). */
  pagePort: number;
  /** The endpoint node's control port. */
  controlPort: number;
  bands: DemoBand[];
  /** The assertion audience of the demo NEA. */
  audience: string;
  /**
   * Also put a band that is not enrolled in front of the reader (bands/new-band.json), for enrolling by
   * tap: the console's "Enroll by tap" arms the terminal, the page's "new band" row taps it.
   */
  newBand?: boolean;
}

/** The page's name for the band that is not enrolled (NEW_BAND_FILE). */
export const NEW_BAND_LABEL = 'new band';
const NEW_BAND_FILE = 'new-band.json';

export interface RunningDemo {
  readonly page: RunningPageServer;
  readonly bandIds: Record<string, string>;
  /** The band that was not enrolled at start (with `newBand`). */
  readonly newBandId: string | undefined;
  readonly endpoint: ServiceProcess;
  /** POSTs to the endpoint node's control port, e.g. control(`/bands/${id}/tap`). */
  control(path: string, body?: unknown): Promise<Response>;
  stop(): Promise<void>;
}

/**
 * Everything the demo adds to a running platform: a registered terminal, enrolled software bands, an
 * endpoint node process with its simulated reader, and the demo NEA page with its "POMSnet server".
 */
export async function startDemo(platform: Platform, opts: DemoOptions): Promise<RunningDemo> {
  const { dir, terminalId } = opts;
  mkdirSync(join(dir, 'bands'), { recursive: true });
  mkdirSync(join(dir, 'logs'), { recursive: true });
  const terminal = await platform
    .api<{ credential: string }>('POST', '/v1/terminals', { terminalId, description: 'demo terminal' })
    .catch(async () =>
      platform.api<{ credential: string }>('POST', `/v1/terminals/${terminalId}/credential`),
    );
  writeFileSync(join(dir, 'terminal.credential'), terminal.credential, { mode: 0o600 });

  const bandIds: Record<string, string> = {};
  for (const b of opts.bands) {
    const band = SoftwareBand.loadOrCreate(join(dir, 'bands', `${b.user}.json`));
    bandIds[b.user] = band.bandId;
    await platform
      .api('POST', '/v1/enrollments', {
        bandId: band.bandId,
        user: { sAMAccountName: b.user },
        publicKey: exportBandPublicKeyJwk(band.publicKey),
      })
      .catch((e: Error) => {
        if (!/409/.test(e.message)) throw e;
      });
  }

  // Loaded by the endpoint node with the others (every file in bands/), but never enrolled here.
  const newBandId = opts.newBand
    ? SoftwareBand.loadOrCreate(join(dir, 'bands', NEW_BAND_FILE)).bandId
    : undefined;

  writeFileSync(
    join(dir, 'nbe.toml'),
    `agent_url = "ws://127.0.0.1:${platform.ports.agent}/socket/websocket"
rssi_window_tap = 10
rssi_window_long = 50
rssi_tap_threshold = -42
terminal_id = "${terminalId}"
credential_file = "terminal.credential"
control_port = ${opts.controlPort}
`,
  );
  // From its image too when the platform runs images (then `dir` must be the platform's folder).
  const endpoint = await platform.startProgram({
    name: 'endpoint-node',
    script: 'services/endpoint-node/dist/main.js',
    args: ['run', '--config', join(dir, 'nbe.toml'), '--bands', join(dir, 'bands')],
    env: {},
    readyUrl: `http://127.0.0.1:${opts.controlPort}/status`,
  });
  const control = (path: string, body?: unknown) =>
    fetch(`http://127.0.0.1:${opts.controlPort}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body ?? {}),
    });
  let page: RunningPageServer | undefined;
  try {
    for (const b of opts.bands) {
      await control(`/bands/${bandIds[b.user]}/clasp`);
      if (b.authenticated) await control(`/bands/${bandIds[b.user]}/authenticate`);
      // Near the reader but below the BLE tap threshold: presence knows the band is here.
      await control(`/bands/${bandIds[b.user]}/rssi`, { rssi: -62 });
    }
    page = await startPageServer({
      port: opts.pagePort,
      controlPort: opts.controlPort,
      jwksUrl: platform.jwksUrl,
      config: {
        terminalId,
        agentPort: platform.ports.agent,
        audience: opts.audience,
        bands: newBandId ? { ...bandIds, [NEW_BAND_LABEL]: newBandId } : bandIds,
        ...(newBandId ? { newBand: NEW_BAND_LABEL } : {}),
      },
    });
  } catch (e) {
    await endpoint.stop();
    throw e;
  }
  const running = page;
  return {
    page: running,
    bandIds,
    newBandId,
    endpoint,
    control,
    async stop() {
      await running.close();
      await endpoint.stop();
    },
  };
}
