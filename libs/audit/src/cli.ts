#!/usr/bin/env node
// The audit trail from a shell: verify the hash chain, export a time range.
//   node libs/audit/dist/cli.js verify [--from-seq N] [--to-seq N] [--json] [--nats URL] [--timeout-ms MS]
//   node libs/audit/dist/cli.js export [--from ISO] [--to ISO] [--format csv|json] [--out FILE] [--nats URL]
// NATS comes from --nats, else TAPGATE_NATS_SERVERS / the [nats] section of TAPGATE_CONFIG.
// export without --from/--to exports the whole stream. It prints (stderr) how many records it exported
// and how many the stream holds.
// Exit codes: 0 ok; 1 broken chain (verify) or records unreadable or missing in the range (export);
// 2 configuration error; 3 NATS or the stream unavailable; 64 usage.
import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import { parseArgs } from 'node:util';
import type { Writable } from 'node:stream';
import { ConfigError, loadAgentConfig } from '@tapgate/config';
import { connectMessaging, type Messaging } from '@tapgate/messaging';
import { setLogDestination } from '@tapgate/telemetry';
import {
  csvHeader,
  csvRow,
  describeTally,
  jsonEntry,
  newTally,
  tallyComplete,
  WHOLE_TRAIL,
  type ExportFormat,
} from './export';
import { AuditTrail } from './trail';

const USAGE = `usage:
  cli.js verify [--from-seq N] [--to-seq N] [--json] [--nats URL] [--timeout-ms MS]
  cli.js export [--from ISO] [--to ISO] [--format csv|json] [--out FILE] [--nats URL] [--timeout-ms MS]`;

class UsageError extends Error {}

const OPTIONS = {
  'from-seq': { type: 'string' },
  'to-seq': { type: 'string' },
  json: { type: 'boolean' },
  from: { type: 'string' },
  to: { type: 'string' },
  format: { type: 'string' },
  out: { type: 'string' },
  nats: { type: 'string' },
  'timeout-ms': { type: 'string' },
  help: { type: 'boolean' },
} as const;

function positiveInt(name: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  if (!/^[1-9]\d{0,15}$/.test(v)) throw new UsageError(`--${name} must be a positive integer`);
  return Number(v);
}

function isoTime(name: string, v: string | undefined, fallback: Date): Date {
  if (v === undefined) return fallback;
  const t = Date.parse(v);
  if (!/^\d{4}-\d{2}-\d{2}/.test(v) || Number.isNaN(t)) {
    throw new UsageError(`--${name} is not an ISO 8601 time`);
  }
  return new Date(t);
}

async function write(out: Writable, text: string): Promise<void> {
  if (!out.write(text)) await once(out, 'drain');
}

function connect(natsFlag: string | undefined): Messaging {
  const { nats } = loadAgentConfig({ sections: ['nats'] });
  const servers = natsFlag ? natsFlag.split(',').map((s) => s.trim()) : nats.servers;
  return connectMessaging({ servers, name: 'tapgate-audit-cli', token: nats.token, ca: nats.ca });
}

async function verify(
  trail: AuditTrail,
  values: Record<string, string | boolean | undefined>,
): Promise<number> {
  const report = await trail.verifyChain({
    fromSeq: positiveInt('from-seq', values['from-seq'] as string | undefined),
    toSeq: positiveInt('to-seq', values['to-seq'] as string | undefined),
  });
  if (values.json) {
    await write(process.stdout, `${JSON.stringify(report)}\n`);
  } else if (report.ok) {
    await write(
      process.stdout,
      `ok: ${report.checked} records verified (sequences ${report.firstSeq}-${report.lastSeq}); head hash ${report.lastHash}\n`,
    );
  } else {
    await write(
      process.stdout,
      `BROKEN at sequence ${report.brokenAt}: ${report.why} (${report.detail}); ${report.checked} records verified before it\n`,
    );
  }
  return report.ok ? 0 : 1;
}

async function exportRange(
  trail: AuditTrail,
  values: Record<string, string | boolean | undefined>,
): Promise<number> {
  const from = isoTime('from', values.from as string | undefined, WHOLE_TRAIL.from);
  const to = isoTime('to', values.to as string | undefined, WHOLE_TRAIL.to);
  if (from >= to) throw new UsageError('--from must be before --to');
  const format = (values.format ?? 'csv') as ExportFormat;
  if (format !== 'csv' && format !== 'json') throw new UsageError('--format must be csv or json');
  // The trail names people: an export file is readable by its owner only.
  const out: Writable = values.out
    ? createWriteStream(values.out as string, { mode: 0o600 })
    : process.stdout;
  const tally = newTally();
  let count = 0;
  await write(out, format === 'csv' ? csvHeader() : '[');
  for await (const e of trail.records({ from, to }, tally)) {
    if (!('record' in e)) continue;
    await write(
      out,
      format === 'csv' ? csvRow(e.seq, e.record) : `${count ? ',' : ''}\n${jsonEntry(e.seq, e.record)}`,
    );
    count += 1;
  }
  if (format === 'json') await write(out, count ? '\n]\n' : ']\n');
  if (out !== process.stdout) {
    out.end();
    await once(out, 'finish');
  }
  process.stderr.write(`${describeTally(tally)}\n`);
  if (count !== tally.exported) throw new Error(`wrote ${count} records but read ${tally.exported}`);
  if (!tallyComplete(tally)) {
    process.stderr.write('error: the export is incomplete: records are unreadable or missing; run verify\n');
    return 1;
  }
  return 0;
}

export async function main(argv: readonly string[]): Promise<number> {
  // Logs go to stderr so that stdout carries only the report or the export.
  setLogDestination(process.stderr, 'error');
  let values: Record<string, string | boolean | undefined>;
  let command: string | undefined;
  try {
    const parsed = parseArgs({ args: [...argv], options: OPTIONS, allowPositionals: true, strict: true });
    values = parsed.values;
    [command] = parsed.positionals;
    if (values.help) {
      process.stdout.write(`${USAGE}\n`);
      return 0;
    }
    if (command !== 'verify' && command !== 'export') {
      throw new UsageError(command ? `unknown command "${command}"` : 'no command');
    }
    if (parsed.positionals.length > 1) throw new UsageError(`unexpected argument "${parsed.positionals[1]}"`);
  } catch (e) {
    process.stderr.write(`${(e as Error).message}\n${USAGE}\n`);
    return 64;
  }
  let messaging: Messaging | undefined;
  try {
    messaging = connect(values.nats as string | undefined);
    const timeout = positiveInt('timeout-ms', values['timeout-ms'] as string | undefined);
    const trail = new AuditTrail(messaging, { requestTimeoutMs: timeout ?? 5_000 });
    return command === 'verify' ? await verify(trail, values) : await exportRange(trail, values);
  } catch (e) {
    if (e instanceof UsageError) {
      process.stderr.write(`${e.message}\n${USAGE}\n`);
      return 64;
    }
    if (e instanceof ConfigError) {
      process.stderr.write(`config error: ${e.message}\n`);
      return 2;
    }
    process.stderr.write(`error: ${e instanceof Error ? e.message : String(e)}\n`);
    return 3;
  } finally {
    await messaging?.close();
  }
}

if (require.main === module) {
  // exit() rather than exitCode: a client still trying to reach a down NATS would keep the process alive.
  void main(process.argv.slice(2)).then((code) => process.exit(code));
}
