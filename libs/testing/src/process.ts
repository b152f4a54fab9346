import { spawn, type ChildProcess } from 'node:child_process';
import { connect } from 'node:net';
import { sleep } from './ports';

/** True once something accepts connections on host:port (TCP), or on a Unix socket path. */
export function canConnect(port: number | { path: string }, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(typeof port === 'number' ? { port, host } : port);
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

export interface ManagedProcess {
  readonly child: ChildProcess;
  /** Output so far (stdout and stderr), for failure messages. */
  output(): string;
  stop(signal?: NodeJS.Signals): Promise<void>;
}

/**
 * Spawns a server binary and waits until its TCP port accepts connections. The process is killed
 * when the test process exits, so a failing test never leaves servers behind.
 */
export async function spawnServer(
  cmd: string,
  args: string[],
  port: number,
  opts: {
    timeoutMs?: number;
    env?: NodeJS.ProcessEnv;
    cwd?: string;
    /** When it is ready, for a server that is not reached over TCP (default: `port` accepts). */
    ready?: () => Promise<boolean>;
  } = {},
): Promise<ManagedProcess> {
  const child = spawn(cmd, args, {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: opts.env ?? process.env,
    cwd: opts.cwd,
  });
  let out = '';
  const keep = (b: Buffer) => {
    out = (out + b.toString()).slice(-20_000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);
  let exited = false;
  const exitPromise = new Promise<void>((resolve) =>
    child.once('exit', () => {
      exited = true;
      process.removeListener('exit', killOnExit);
      resolve();
    }),
  );
  child.once('error', (e) => {
    out += `\nspawn error: ${e.message}`;
  });
  const deadline = Date.now() + (opts.timeoutMs ?? 10_000);
  const ready = opts.ready ?? (() => canConnect(port));
  while (!(await ready())) {
    if (exited || Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`${cmd} did not start${opts.ready ? '' : ` on port ${port}`}:\n${out}`);
    }
    await sleep(20);
  }
  return {
    child,
    output: () => out,
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      if (exited) return;
      child.kill(signal);
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exitPromise;
      clearTimeout(timer);
    },
  };
}
