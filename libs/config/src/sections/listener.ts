import { oneOf, optionalPath, optionalText, port } from '../fields';
import { loadTlsMaterial, type TlsMaterial } from '../pem';
import type { SectionContext } from '../section';

export const LOG_LEVELS = ['error', 'warn', 'info', 'debug'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** A websocket listener: [agent] and [webapi] share these keys, as in Nymi's nymi_agent.toml. */
export interface ListenerSettings {
  protocol: 'ws' | 'wss';
  port: number;
  /** Present exactly when protocol = "wss". */
  tls?: TlsMaterial;
}

export const listenerFields = (defaultPort: number) => ({
  protocol: oneOf(['ws', 'wss'], 'ws'),
  port: port(defaultPort),
  cacertfile: optionalPath(),
  certfile: optionalPath(),
  keyfile: optionalPath(),
  // The host name clients use; when set, the certificate must name it (checked at start-up).
  server_name: optionalText({ expects: 'the host name or IP address clients connect to' }),
  // Revoked client certificates (PEM CRL from the CA that issues them); only with protocol = "wss".
  crlfile: optionalPath(),
});

type ListenerKey = 'protocol' | 'cacertfile' | 'certfile' | 'keyfile' | 'server_name' | 'crlfile';

/** TLS files are validated only for wss; with ws they are ignored, like Nymi's commented-out keys. */
export function buildListener(
  v: {
    protocol: 'ws' | 'wss';
    port: number;
    cacertfile?: string;
    certfile?: string;
    keyfile?: string;
    server_name?: string;
    crlfile?: string;
  },
  at: SectionContext<ListenerKey>,
): ListenerSettings {
  if (v.protocol === 'ws') return { protocol: 'ws', port: v.port };
  return { protocol: 'wss', port: v.port, tls: loadTlsMaterial(at, v) };
}
