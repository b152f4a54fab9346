// Helpers for this service's tests and bench: boot the real app in-process against real servers.
import { loadAgentConfig } from '@tapgate/config';
import { Messaging } from '@tapgate/messaging';
import { freePort } from '@tapgate/testing';
import { CONFIG_SECTIONS, bootstrap, type UserStatusApp } from './bootstrap';
import { UserStatusGet, type StatusAnswer, type UserRef } from '@tapgate/contracts';

/** Boots user-status with configuration given as TAPGATE_* variables only (no file). */
export async function bootWithEnv(env: Record<string, string>): Promise<UserStatusApp> {
  const config = loadAgentConfig({
    env: {
      TAPGATE_HTTP_HOST: '127.0.0.1',
      TAPGATE_HTTP_PORT: String(await freePort()),
      TAPGATE_AGENT_LOG_LEVEL: 'warn',
      ...env,
    },
    sections: CONFIG_SECTIONS,
  });
  return bootstrap({ config });
}

export async function testClient(natsUrl: string): Promise<Messaging> {
  const m = new Messaging({ servers: [natsUrl], name: 'user-status-test-client', requestTimeoutMs: 5_000 });
  await m.connection();
  return m;
}

export const sam = (sAMAccountName: string): UserRef => ({ sAMAccountName });
export const upn = (userPrincipalName: string): UserRef => ({ userPrincipalName });

export function ask(client: Messaging, user: UserRef): Promise<StatusAnswer> {
  return client.request(UserStatusGet, { v: 1, user });
}

/** Reads one sample from GET /metrics (Prometheus text); 0 when the series does not exist yet. */
export async function metric(
  baseUrl: string,
  name: string,
  labels: Record<string, string> = {},
): Promise<number> {
  const text = await (await fetch(`${baseUrl}/metrics`)).text();
  let total = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    const want = Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`));
    if (want) total += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return total;
}

/** Collects log lines (for asserting what reached the log). */
export class LogCapture {
  readonly lines: string[] = [];
  write(chunk: string): void {
    this.lines.push(chunk);
  }
  text(): string {
    return this.lines.join('');
  }
}
