import { SoftwareBand, exportBandPublicKeyJwk } from '@tapgate/band';
import { loadEndpointConfig, loadOrExit } from '@tapgate/config';
import { AgentClient, ENDPOINT_SOFTWARE } from './agent-client';
import { startControlServer } from './control-server';
import { createDriver } from './drivers/create';
import { SimulatedDriver } from './drivers/simulated';
import { EndpointNode } from './endpoint-node';
import { RotatingLogFile } from './rotating-log';
import { setLogDestination, setLogLevel } from '@tapgate/telemetry';
import { parseArgs } from 'node:util';

const USAGE = `Tapgate endpoint node

  endpoint-node [run] [--config FILE] [--bands DIR]   run the endpoint (reads nbe.toml)
  endpoint-node tap <bandId>                         NFC tap with a simulated band
  endpoint-node authenticate|clasp|remove <bandId>   change a simulated band's state
  endpoint-node rssi <bandId> <dBm|off>              steady RSSI for a simulated band
  endpoint-node approach <bandId>                    replay an approach (BLE tap if enabled)
  endpoint-node status                               connection, bands and recent taps
  endpoint-node check [--config FILE]                load nbe.toml and report problems (exit 1)
  endpoint-node band new --out FILE                  create a software band key file
  endpoint-node --version                            print the version

Options: --config FILE (nbe.toml; default: the platform path), --control-port N (default: nbe.toml
control_port), --bands DIR (software band files *.json for the simulated driver).`;

async function control(port: number, method: string, path: string, body?: unknown): Promise<void> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`, {
    method,
    headers: { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  }).catch((e: unknown) => {
    console.error(`cannot reach the endpoint node's control port ${port}: ${(e as Error).message}`);
    process.exit(1);
  });
  const text = await res.text();
  console.log(text);
  if (!res.ok) process.exit(1);
}

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      config: { type: 'string' },
      'control-port': { type: 'string' },
      bands: { type: 'string' },
      out: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
      version: { type: 'boolean' },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return;
  }
  if (values.version) {
    console.log(
      `${ENDPOINT_SOFTWARE.name} ${ENDPOINT_SOFTWARE.version} (node ${process.versions.node} ${process.platform}-${process.arch})`,
    );
    return;
  }
  const [command = 'run', ...rest] = positionals;
  if (command === 'band' && rest[0] === 'new') {
    if (!values.out) throw new Error('band new needs --out FILE');
    const band = SoftwareBand.loadOrCreate(values.out);
    console.log(JSON.stringify({ bandId: band.bandId, publicKey: exportBandPublicKeyJwk(band.publicKey) }));
    return;
  }
  const cfg = loadOrExit(() => loadEndpointConfig({ path: values.config }));
  const port = values['control-port'] ? Number(values['control-port']) : cfg.controlPort;
  const band = rest[0];
  switch (command) {
    case 'run':
      return run(cfg, values.bands);
    case 'check':
      console.log(
        `${cfg.file ?? 'no nbe.toml (defaults)'}: OK (terminal ${cfg.terminalId}, driver ${cfg.driver})`,
      );
      return;
    case 'status':
      return control(port, 'GET', '/status');
    case 'tap':
    case 'authenticate':
    case 'clasp':
    case 'remove':
    case 'approach':
      if (!band) throw new Error(`${command} needs a band id`);
      return control(port, 'POST', `/bands/${encodeURIComponent(band)}/${command}`);
    case 'rssi':
      if (!band || rest[1] === undefined) throw new Error('rssi needs a band id and a dBm value or "off"');
      return control(port, 'POST', `/bands/${encodeURIComponent(band)}/rssi`, {
        rssi: rest[1] === 'off' ? null : Number(rest[1]),
      });
    default:
      console.error(USAGE);
      process.exit(2);
  }
}

async function run(cfg: ReturnType<typeof loadEndpointConfig>, bandsDir: string | undefined): Promise<void> {
  setLogLevel(cfg.logLevel);
  if (cfg.logFile) {
    setLogDestination(new RotatingLogFile(cfg.logFile, cfg.logFileMaxBytes, cfg.logFileKeep), cfg.logLevel);
  }
  const driver = createDriver(cfg.driver, {
    bandsDir,
    nfc: { readerFilter: cfg.nfcReader, apduTimeoutMs: cfg.nfcApduTimeoutMs },
  });
  const client = new AgentClient({
    url: cfg.agentUrl,
    terminalId: cfg.terminalId,
    credential: cfg.credential,
    ca: cfg.ca,
    clientCertificate: cfg.clientCertificate,
    software: ENDPOINT_SOFTWARE,
    capabilities:
      driver instanceof SimulatedDriver
        ? ['nfc', 'ble', 'simulated']
        : cfg.driver === 'ble'
          ? ['ble']
          : ['nfc'],
  });
  const node = new EndpointNode({
    client,
    driver,
    ble: { windowTap: cfg.rssiWindowTap, windowLong: cfg.rssiWindowLong, threshold: cfg.rssiTapThreshold },
    supportLegacyMode: cfg.supportLegacyMode,
  });
  // A reader stack that cannot start (no Bluetooth adapter, no PC/SC service binding) is a start-up error.
  await node.start().catch((e: unknown) => {
    console.error((e as Error).message);
    process.exit(2);
  });
  const control =
    cfg.controlPort > 0 && driver instanceof SimulatedDriver
      ? await startControlServer(cfg.controlPort, cfg.terminalId, driver, node, client)
      : undefined;
  const stop = () => {
    control?.close();
    void node.stop().then(() => process.exit(0));
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

main().catch((e: unknown) => {
  console.error((e as Error).message);
  process.exit(1);
});
