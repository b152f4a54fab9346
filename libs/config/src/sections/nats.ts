import { integer, list, optionalPath, optionalText } from '../fields';
import { readCaBundle } from '../pem';
import { defineSection } from '../section';
import { defined } from '../util';

export interface NatsSettings {
  servers: string[];
  name?: string;
  /** Read from token_file. Secret: never log it. */
  token?: string;
  /** PEM CA bundle read from ca_file, to verify tls:// servers. */
  ca?: string;
  requestTimeoutMs: number;
  /**
   * JetStream replicas of every stream and KV bucket Tapgate creates (the audit streams and all buckets):
   * 1 on a single server, 3 on a 3-node cluster. One setting, so no asset is left on one node.
   */
  replicas: number;
}

function natsUrlProblem(v: string): string | undefined {
  try {
    const url = new URL(v);
    if ((url.protocol === 'nats:' || url.protocol === 'tls:') && url.hostname !== '') return undefined;
  } catch {
    // fall through to the problem below
  }
  return 'is not a nats:// or tls:// URL';
}

export const natsSection = defineSection({
  name: 'nats',
  summary: 'the NATS cluster every service talks through',
  fields: {
    servers: list({
      default: ['nats://127.0.0.1:4222'],
      expects: 'NATS URLs',
      nonEmpty: true,
      item: natsUrlProblem,
    }),
    name: optionalText(),
    token_file: optionalPath(),
    ca_file: optionalPath(),
    request_timeout_ms: integer({ default: 2000, min: 1, max: 600_000 }),
    replicas: integer({ default: 1, min: 1, max: 5 }),
  },
  build: (v, at): NatsSettings =>
    defined({
      servers: v.servers,
      name: v.name,
      token: v.token_file === undefined ? undefined : at.readSecret('token_file', v.token_file),
      ca: v.ca_file === undefined ? undefined : readCaBundle(at, 'ca_file', v.ca_file),
      requestTimeoutMs: v.request_timeout_ms,
      replicas: v.replicas,
    }),
});
