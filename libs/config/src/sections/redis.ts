import { isIP } from 'node:net';
import { list, optionalPath, text, url } from '../fields';
import { defineSection } from '../section';
import { defined } from '../util';

/** One Sentinel's address. */
export interface SentinelAddress {
  host: string;
  port: number;
}

/** Redis behind Sentinels: the client asks them which server is the primary of `masterName`. */
export interface RedisSentinelSettings {
  sentinels: SentinelAddress[];
  masterName: string;
  /** Read from sentinel_password_file: the Sentinels' own password. Secret: never log it. */
  password?: string;
}

export interface RedisSettings {
  /** With `sentinel`, only its scheme (rediss = TLS) and database number are used, not its host. */
  url: string;
  /** Read from password_file: the data servers' password. Secret: never log it. */
  password?: string;
  /** Present when [redis] sentinels lists at least one Sentinel. */
  sentinel?: RedisSentinelSettings;
}

const HOSTNAME =
  /^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*$/;

/** `host:port`, `[v6]:port`; undefined when it is not one. */
export function parseSentinelAddress(value: string): SentinelAddress | undefined {
  const m = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(value.trim());
  if (!m) return undefined;
  const port = Number(m[3]);
  if (port < 1 || port > 65535) return undefined;
  const v6 = m[1];
  if (v6 !== undefined) return isIP(v6) === 6 ? { host: v6, port } : undefined;
  const host = m[2];
  return isIP(host) === 4 || HOSTNAME.test(host) ? { host, port } : undefined;
}

export const redisSection = defineSection({
  name: 'redis',
  summary: 'the Redis used for presence state and the user-status cache',
  fields: {
    url: url(['redis', 'rediss'], 'redis://127.0.0.1:6379'),
    password_file: optionalPath(),
    sentinels: list({
      default: [],
      expects: 'Sentinel addresses host:port',
      item: (v) =>
        parseSentinelAddress(v) ? undefined : 'is not host:port (e.g. "10.0.0.5:26379" or "[fd00::5]:26379")',
    }),
    master_name: text({ default: 'tapgate' }),
    sentinel_password_file: optionalPath(),
  },
  build: (v, at): RedisSettings =>
    defined({
      url: v.url,
      password: v.password_file === undefined ? undefined : at.readSecret('password_file', v.password_file),
      // Without Sentinels, master_name and sentinel_password_file are not used (a chart may set them
      // whatever the mode), so the file is not read either.
      sentinel:
        v.sentinels.length === 0
          ? undefined
          : defined({
              sentinels: v.sentinels.map((s) => parseSentinelAddress(s)!),
              masterName: v.master_name,
              password:
                v.sentinel_password_file === undefined
                  ? undefined
                  : at.readSecret('sentinel_password_file', v.sentinel_password_file),
            }),
    }),
});
