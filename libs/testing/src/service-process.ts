import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { sleep } from './ports';

export interface ServiceProcess {
  readonly name: string;
  readonly child: ChildProcess;
  /** Resident set size of the process in bytes (Linux /proc). */
  rss(): Promise<number>;
  /** The program's process id (not a wrapper's, such as `buildah run`), while it runs. */
  pid(): number | undefined;
  /** Milliseconds from spawning until the readiness URL first answered 200 (0 without a readiness URL). */
  readonly readyMs: number;
  stop(): Promise<void>;
}

/** The repository root (libs/testing/dist/.. /../..). */
export const REPO_ROOT = resolve(__dirname, '..', '..', '..');

/** How a supervised process is started, read and stopped. */
export interface SupervisedOptions {
  name: string;
  logFile: string;
  readyUrl?: string;
  timeoutMs?: number;
  /**
   * The processes that are the program itself (default: the spawned child). A wrapper such as
   * `buildah run` does not pass SIGTERM on, so stop() signals these, and rss() reads the first.
   */
  programPids?: () => number[];
  /** Runs once after the process exited (e.g. removes its container). */
  cleanup?: () => void;
}

/**
 * Starts a Tapgate program (e.g. services/ws-gateway/dist/main.js) as its own process with the given
 * environment, sends its output to `logFile`, and waits until `readyUrl` answers 200. Used by the
 * demo and the benchmark, which need separate processes (real RSS figures, real restarts).
 */
export async function startServiceProcess(
  opts: Omit<SupervisedOptions, 'programPids' | 'cleanup'> & {
    script: string;
    args?: string[];
    env: Record<string, string>;
  },
): Promise<ServiceProcess> {
  const child = spawn(process.execPath, [resolve(REPO_ROOT, opts.script), ...(opts.args ?? [])], {
    env: { ...process.env, ...opts.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return superviseServiceProcess(child, opts);
}

/**
 * Logs a started program's output to `logFile` and waits until `readyUrl` answers 200 (or the program
 * exits, or the timeout passes: then it throws). `readyMs` is the time from now until ready.
 */
export async function superviseServiceProcess(
  child: ChildProcess,
  opts: SupervisedOptions,
): Promise<ServiceProcess> {
  const started = Date.now();
  mkdirSync(dirname(opts.logFile), { recursive: true });
  const log = createWriteStream(opts.logFile, { flags: 'a' });
  child.stdout?.pipe(log);
  child.stderr?.pipe(log);
  let exited: number | null | undefined;
  const exitedPromise = new Promise<void>((r) =>
    child.once('exit', (code) => {
      exited = code;
      opts.cleanup?.();
      r();
    }),
  );
  const programPids = () => opts.programPids?.() ?? (child.pid === undefined ? [] : [child.pid]);
  const killOnExit = () => {
    for (const pid of programPids()) killQuietly(pid, 'SIGKILL');
    child.kill('SIGKILL');
  };
  process.once('exit', killOnExit);
  const deadline = started + (opts.timeoutMs ?? 30_000);
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
        killOnExit();
        throw new Error(`${opts.name} not ready at ${opts.readyUrl} within the timeout; see ${opts.logFile}`);
      }
      await sleep(100);
    }
  }
  return {
    name: opts.name,
    child,
    readyMs: Date.now() - started,
    pid: () => programPids()[0] ?? child.pid,
    async rss() {
      const { readFile } = await import('node:fs/promises');
      const status = await readFile(`/proc/${programPids()[0] ?? child.pid}/status`, 'utf8');
      const kb = /VmRSS:\s+(\d+) kB/.exec(status)?.[1];
      return kb ? Number(kb) * 1024 : 0;
    },
    async stop() {
      process.removeListener('exit', killOnExit);
      if (exited !== undefined) return;
      const pids = programPids();
      for (const pid of pids) killQuietly(pid, 'SIGTERM');
      if (pids.length === 0) child.kill('SIGTERM');
      const t = setTimeout(killOnExit, 5000);
      await exitedPromise;
      clearTimeout(t);
      log.end();
    },
  };
}

function killQuietly(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch {
    // Already gone.
  }
}
