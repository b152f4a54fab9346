import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { sleep } from './ports';

export interface ServiceProcess {
  readonly name: string;
  readonly child: ChildProcess;
  /** Resident set size of the process in bytes (Linux /proc). */
  rss(): Promise<number>;
  stop(): Promise<void>;
}

/** The repository root (libs/testing/dist/.. /../..). */
export const REPO_ROOT = resolve(__dirname, '..', '..', '..');

/**
 * Starts a Tapgate program (e.g. services/ws-gateway/dist/main.js) as its own process with the given
 * environment, sends its output to `logFile`, and waits until `readyUrl` answers 200. Used by the
 * demo and the benchmark, which need separate processes (real RSS figures, real restarts).
 */
export async function startServiceProcess(opts: {
  name: string;
  script: string;
  args?: string[];
  env: Record<string, string>;
  logFile: string;
  readyUrl?: string;
  timeoutMs?: number;
}): Promise<ServiceProcess> {
  mkdirSync(dirname(opts.logFile), { recursive: true });
  const log = createWriteStream(opts.logFile, { flags: 'a' });
  const child = spawn(process.execPath, [resolve(REPO_ROOT, opts.script), ...(opts.args ?? [])], {
    env: { ...process.env, ...opts.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout?.pipe(log);
  child.stderr?.pipe(log);
  let exited: number | null | undefined;
  child.once('exit', (code) => {
    exited = code;
  });
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);
  const deadline = Date.now() + (opts.timeoutMs ?? 30_000);
  if (opts.readyUrl) {
    for (;;) {
      if (exited !== undefined) {
        throw new Error(`${opts.name} exited (${exited}) during start-up; see ${opts.logFile}`);
      }
      const ok = await fetch(opts.readyUrl).then(
        (r) => r.ok,
        () => false,
      );
      if (ok) break;
      if (Date.now() > deadline) {
        child.kill('SIGKILL');
        throw new Error(`${opts.name} not ready at ${opts.readyUrl} within the timeout; see ${opts.logFile}`);
      }
      await sleep(100);
    }
  }
  return {
    name: opts.name,
    child,
    async rss() {
      const { readFile } = await import('node:fs/promises');
      const status = await readFile(`/proc/${child.pid}/status`, 'utf8');
      const kb = /VmRSS:\s+(\d+) kB/.exec(status)?.[1];
      return kb ? Number(kb) * 1024 : 0;
    },
    async stop() {
      process.removeListener('exit', killOnExit);
      if (exited !== undefined) return;
      const done = new Promise<void>((r) => child.once('exit', () => r()));
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 5000);
      await done;
      clearTimeout(t);
      log.end();
    },
  };
}
