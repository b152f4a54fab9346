import { existsSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sleep } from './ports';

export interface ProcessMemory {
  rss: number;
  heapUsed: number;
  heapTotal: number;
  external: number;
  arrayBuffers: number;
  objectPrototypeKeys: number;
}

export const memoryProbePortFile = (pid: number): string =>
  join(tmpdir(), `tapgate-memory-probe-${pid}.port`);

/** NODE_OPTIONS that load the memory probe into a service process. */
export function memoryProbeNodeOptions(): string {
  return `--require ${join(__dirname, 'memory-probe.js')}`;
}

/**
 * Full GC in the process `pid` (started with memoryProbeNodeOptions), then its memory figures. With
 * `lastResort`, V8's low-memory GC, which also hands V8's pooled free pages back to the system.
 */
export async function probeMemory(pid: number, opts: { lastResort?: boolean } = {}): Promise<ProcessMemory> {
  const file = memoryProbePortFile(pid);
  for (let i = 0; i < 100 && !existsSync(file); i++) await sleep(50);
  const port = readFileSync(file, 'utf8').trim();
  const res = await fetch(`http://127.0.0.1:${port}/${opts.lastResort ? '?last-resort' : ''}`);
  return (await res.json()) as ProcessMemory;
}
