#!/usr/bin/env node
import { existsSync, readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { normalizeClientAddress } from '@tapgate/contracts';
import { PolicyApiError, PolicyClient } from './cli/policy-client';

const USAGE = `usage: node services/policy/dist/cli.js [--url URL] --token-file FILE <command>

  enroll <bandId> <sAMAccountName> --key KEY   enroll a band (KEY: a file with a PEM SPKI or JWK, or a
                                               base64url P-256 point); a private JWK is reduced to its public part
  enroll-badge <uid> <sAMAccountName>          enroll a plain NFC UID badge (4, 7 or 10 bytes in hex)
  rekey <bandId> --key KEY                     replace the band's public key
  suspend <bandId> | reactivate <bandId> | delete <bandId>
  list [--user NAME] [--band ID]               list enrollments
  terminal add <terminalId> [--description T]  register a terminal; prints its credential (shown only once)
  terminal rotate <terminalId>                 issue a new credential (prints it once; the old one stops working)
  terminal disable|enable|delete <terminalId>
  terminal pin <terminalId> [sha256 ...]      pin client certificates (none: remove pinning)
  terminal remote-clients <terminalId> [address|name ...]
                                               RDP/Citrix clients whose sessions get its taps (none: remove)
  terminal list

  --url         policy service base URL (default http://127.0.0.1:8080)
  --token-file  file holding the administrator token ([policy].admin_token_file)`;

class UsageError extends Error {}

/** Reads --key: a file (PEM, JWK JSON or raw point) or the literal value. Never sends private members. */
function readKey(value: string | undefined): string | Record<string, unknown> {
  if (!value) throw new UsageError('--key is required');
  const text = (existsSync(value) ? readFileSync(value, 'utf8') : value).trim();
  if (!text.startsWith('{')) return text;
  let jwk: Record<string, unknown>;
  try {
    jwk = JSON.parse(text) as Record<string, unknown>;
  } catch {
    throw new UsageError('--key: the JWK is not valid JSON');
  }
  return { kty: jwk.kty, crv: jwk.crv, x: jwk.x, y: jwk.y };
}

const path = (...parts: string[]): string => parts.map(encodeURIComponent).join('/');

async function run(argv: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      url: { type: 'string', default: 'http://127.0.0.1:8080' },
      'token-file': { type: 'string' },
      key: { type: 'string' },
      user: { type: 'string' },
      band: { type: 'string' },
      description: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  if (positionals.length === 0) throw new UsageError('missing command');
  if (!values['token-file']) throw new UsageError('--token-file is required');
  const token = readFileSync(values['token-file'], 'utf8').trim();
  const api = new PolicyClient(values.url, token);
  const print = (v: unknown): void => void process.stdout.write(`${JSON.stringify(v, null, 2)}\n`);
  const printCredential = (r: { terminal: { terminalId: string }; credential: string }): void => {
    process.stderr.write(`terminal ${r.terminal.terminalId}: credential issued; it cannot be shown again\n`);
    process.stdout.write(`${r.credential}\n`);
  };
  const [cmd, a, b] = positionals;
  const need = (v: string | undefined, what: string): string => {
    if (!v) throw new UsageError(`missing ${what}`);
    return v;
  };

  switch (cmd) {
    case 'enroll':
      return print(
        await api.call('POST', '/v1/enrollments', {
          bandId: need(a, '<bandId>'),
          user: { sAMAccountName: need(b, '<sAMAccountName>') },
          publicKey: readKey(values.key),
        }),
      );
    case 'enroll-badge':
      return print(
        await api.call('POST', '/v1/enrollments/uid-badges', {
          uid: need(a, '<uid>'),
          user: { sAMAccountName: need(b, '<sAMAccountName>') },
        }),
      );
    case 'rekey':
      return print(
        await api.call('PUT', `/v1/enrollments/${path(need(a, '<bandId>'))}/key`, {
          publicKey: readKey(values.key),
        }),
      );
    case 'suspend':
    case 'reactivate':
      return print(await api.call('POST', `/v1/enrollments/${path(need(a, '<bandId>'))}/${cmd}`));
    case 'delete':
      await api.call('DELETE', `/v1/enrollments/${path(need(a, '<bandId>'))}`);
      return;
    case 'list': {
      const q = new URLSearchParams();
      if (values.user) q.set('user', values.user);
      if (values.band) q.set('band', values.band);
      return print(await api.call('GET', `/v1/enrollments${q.size ? `?${q.toString()}` : ''}`));
    }
    case 'terminal': {
      const id = (): string => path(need(b, '<terminalId>'));
      switch (a) {
        case 'add':
          return printCredential(
            await api.call('POST', '/v1/terminals', {
              terminalId: need(b, '<terminalId>'),
              ...(values.description !== undefined ? { description: values.description } : {}),
            }),
          );
        case 'rotate':
          return printCredential(await api.call('POST', `/v1/terminals/${id()}/credential`));
        case 'disable':
        case 'enable':
          return print(await api.call('POST', `/v1/terminals/${id()}/${a}`));
        case 'delete':
          await api.call('DELETE', `/v1/terminals/${id()}`);
          return;
        case 'pin':
          return print(
            await api.call('PUT', `/v1/terminals/${id()}/certificates`, {
              certificateSha256: positionals.slice(3),
            }),
          );
        case 'remote-clients': {
          // An argument that is an IP address is a client address; anything else a client name.
          const clients = positionals.slice(3);
          const isAddress = (c: string) => normalizeClientAddress(c) !== undefined;
          return print(
            await api.call('PUT', `/v1/terminals/${id()}/remote-clients`, {
              addresses: clients.filter(isAddress),
              names: clients.filter((c) => !isAddress(c)),
            }),
          );
        }
        case 'list':
          return print(await api.call('GET', '/v1/terminals'));
        default:
          throw new UsageError(`unknown terminal command ${a ?? ''}`);
      }
    }
    default:
      throw new UsageError(`unknown command ${cmd}`);
  }
}

run(process.argv.slice(2)).catch((e: unknown) => {
  if (e instanceof UsageError || (e as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
    process.stderr.write(`error: ${(e as Error).message}\n`);
    process.stderr.write(`${USAGE}\n`);
    process.exit(2);
  }
  if (e instanceof PolicyApiError) {
    const field = e.error.field ? ` (field ${e.error.field})` : '';
    process.stderr.write(`error: ${e.status} ${e.error.code}: ${e.error.message}${field}\n`);
  } else {
    process.stderr.write(`error: ${e instanceof Error ? e.message : String(e)}\n`);
  }
  process.exit(1);
});
