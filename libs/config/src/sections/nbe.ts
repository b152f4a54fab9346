import { hostname } from 'node:os';
import { TERMINAL_ID_PATTERN } from '@tapgate/contracts';
import { integer, oneOf, optionalPath, optionalText, text, url } from '../fields';
import { loadClientCertificate, readCaBundle, type ClientCertificateMaterial } from '../pem';
import { defineSection } from '../section';
import { defined, subjectSafeName } from '../util';
import { LOG_LEVELS, type LogLevel } from './listener';

export const ENDPOINT_DRIVERS = ['simulated', 'nfc', 'ble'] as const;
export type EndpointDriver = (typeof ENDPOINT_DRIVERS)[number];

/** The endpoint node's nbe.toml (no sections: every key is top-level, as in Nymi's file). */
export interface EndpointSettings {
  agentUrl: string;
  rssiWindowTap: number;
  rssiWindowLong: number;
  /** 0 = BLE tap off; otherwise a rolling average at or above it is a tap. */
  rssiTapThreshold: number;
  terminalId: string;
  /** The per-terminal credential read from credential_file. Secret: never log it. */
  credential?: string;
  /** PEM CA bundle read from ca_file, trusted for a wss agent_url. */
  ca?: string;
  /** Client certificate (CN = terminal id) and key from certfile/keyfile, for mTLS to the agent. */
  clientCertificate?: ClientCertificateMaterial;
  driver: EndpointDriver;
  /** The simulated driver's control port on 127.0.0.1; 0 = off. */
  controlPort: number;
  logLevel: LogLevel;
  /** driver "nfc": only readers whose name contains this (case-insensitive) take taps; unset = all. */
  nfcReader?: string;
  /** driver "nfc": how long one APDU may take before the card counts as not answering. */
  nfcApduTimeoutMs: number;
  /** Log to this file, rotated by size, instead of stdout (a Windows service has no console). */
  logFile?: string;
  logFileMaxBytes: number;
  logFileKeep: number;
}

export const nbeSection = defineSection({
  name: 'nbe',
  summary: 'the endpoint node (Nymi Bluetooth Endpoint keys plus Tapgate extensions)',
  fields: {
    agent_url: url(['ws', 'wss'], 'ws://127.0.0.1:9120/socket/websocket'),
    rssi_window_tap: integer({ default: 10, min: 1, max: 1000 }),
    rssi_window_long: integer({ default: 50, min: 1, max: 100_000 }),
    rssi_tap_threshold: integer({ default: 0, min: -127, max: 0 }),
    // Tapgate extensions from here on.
    terminal_id: text({
      default: () => subjectSafeName(hostname(), 'terminal'),
      defaultText: 'the host name, other characters replaced by -',
      expects: '1-64 of A-Z a-z 0-9 _ -',
      validate: (v) => (TERMINAL_ID_PATTERN.test(v) ? undefined : 'must be 1-64 of A-Z a-z 0-9 _ -'),
    }),
    credential_file: optionalPath(),
    ca_file: optionalPath(),
    certfile: optionalPath(),
    keyfile: optionalPath(),
    driver: oneOf(ENDPOINT_DRIVERS, 'simulated'),
    control_port: integer({ default: 9130, min: 0, max: 65535 }),
    log_level: oneOf(LOG_LEVELS, 'info'),
    nfc_reader: optionalText(),
    nfc_apdu_timeout_ms: integer({ default: 3000, min: 100, max: 60_000 }),
    log_file: optionalPath(),
    log_file_max_mb: integer({ default: 10, min: 1, max: 1024 }),
    log_file_keep: integer({ default: 5, min: 1, max: 100 }),
  },
  build: (v, at): EndpointSettings => {
    if (v.rssi_window_long < v.rssi_window_tap) {
      const blame = at.origin('rssi_window_long') === 'default' ? 'rssi_window_tap' : 'rssi_window_long';
      throw at.error(
        'rssi_window_long',
        `must be >= rssi_window_tap (${v.rssi_window_tap}) (got ${v.rssi_window_long})`,
        blame,
      );
    }
    return defined({
      agentUrl: v.agent_url,
      rssiWindowTap: v.rssi_window_tap,
      rssiWindowLong: v.rssi_window_long,
      rssiTapThreshold: v.rssi_tap_threshold,
      terminalId: v.terminal_id,
      credential:
        v.credential_file === undefined ? undefined : at.readSecret('credential_file', v.credential_file),
      ca: v.ca_file === undefined ? undefined : readCaBundle(at, 'ca_file', v.ca_file),
      clientCertificate: loadClientCertificate(at, v),
      driver: v.driver,
      controlPort: v.control_port,
      logLevel: v.log_level,
      nfcReader: v.nfc_reader,
      nfcApduTimeoutMs: v.nfc_apdu_timeout_ms,
      logFile: v.log_file,
      logFileMaxBytes: v.log_file_max_mb * 1024 * 1024,
      logFileKeep: v.log_file_keep,
    });
  },
});
