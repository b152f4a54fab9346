/**
 * CPU profiles of a running service over one phase, through the V8 inspector: the service is started
 * with `--inspect=127.0.0.1:0` (NODE_OPTIONS), prints the inspector's address to its log, and the bench
 * starts and stops the sampling profiler around the phase it measures.
 */
import { readFile } from 'node:fs/promises';
import WebSocket from 'ws';
import type { CpuProfile } from './profile';

/** NODE_OPTIONS that open the inspector on a free loopback port (printed to the service's stderr). */
export const INSPECT_NODE_OPTIONS = '--inspect=127.0.0.1:0';

/** The inspector address the process logged last (a restarted service appends to the same log). */
export async function inspectorUrlFromLog(logFile: string, timeoutMs = 10_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const text = await readFile(logFile, 'utf8').catch(() => '');
    const urls = [...text.matchAll(/Debugger listening on (ws:\/\/\S+)/g)];
    if (urls.length > 0) return urls[urls.length - 1][1];
    if (Date.now() > deadline) throw new Error(`no inspector address in ${logFile}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** One inspector session: sends commands and resolves their results. */
export class InspectorSession {
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private readonly listeners = new Map<string, (params: unknown) => void>();

  private constructor(private readonly ws: WebSocket) {
    ws.on('message', (d: Buffer) => {
      const m = JSON.parse(d.toString('utf8')) as {
        id?: number;
        method?: string;
        params?: unknown;
        result?: unknown;
        error?: { message: string };
      };
      if (m.method !== undefined) this.listeners.get(m.method)?.(m.params);
      const p = m.id === undefined ? undefined : this.pending.get(m.id);
      if (!p) return;
      this.pending.delete(m.id!);
      if (m.error) p.reject(new Error(m.error.message));
      else p.resolve(m.result);
    });
    ws.on('close', () => {
      for (const p of this.pending.values()) p.reject(new Error('inspector session closed'));
      this.pending.clear();
    });
  }

  static connect(url: string): Promise<InspectorSession> {
    return new Promise((resolve, reject) => {
      // Inspector messages (a whole profile) can be large.
      const ws = new WebSocket(url, { perMessageDeflate: false, maxPayload: 1 << 30 });
      ws.once('open', () => resolve(new InspectorSession(ws)));
      ws.once('error', reject);
    });
  }

  post<T>(method: string, params?: Record<string, unknown>): Promise<T> {
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.ws.send(JSON.stringify({ id, method, params }));
    });
  }

  /** Handles the events named `method` (e.g. HeapProfiler.addHeapSnapshotChunk); one listener each. */
  on<T>(method: string, listener: (params: T) => void): void {
    this.listeners.set(method, listener as (params: unknown) => void);
  }

  close(): void {
    this.ws.close();
  }
}

/** A started CPU profile of one process; `stop()` returns the profile and closes the session. */
export interface RunningProfile {
  stop(): Promise<CpuProfile>;
}

/** Starts the sampling profiler (1 ms interval) in the process whose log names its inspector. */
export async function startProfile(logFile: string): Promise<RunningProfile> {
  const session = await InspectorSession.connect(await inspectorUrlFromLog(logFile));
  await session.post('Profiler.enable');
  await session.post('Profiler.setSamplingInterval', { interval: 1000 });
  await session.post('Profiler.start');
  return {
    async stop() {
      try {
        const { profile } = await session.post<{ profile: CpuProfile }>('Profiler.stop');
        return profile;
      } finally {
        session.close();
      }
    },
  };
}
