/** What the bench reads about processes and the machine from Linux /proc. */
import { readdirSync, readFileSync } from 'node:fs';
import { readFile, readdir } from 'node:fs/promises';
import { performance } from 'node:perf_hooks';

/** Linux reports CPU times in clock ticks; USER_HZ is 100 on every Linux the bench runs on. */
const MS_PER_TICK = 10;

/** User + system CPU time of a process in milliseconds. */
export async function cpuMsOf(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) * MS_PER_TICK;
}

export async function rssOf(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? 0) * 1024;
}

/** The soft limit on open files of a process, and how many it has open now. */
export async function openFilesOf(pid: number): Promise<{ limit: number; open: number }> {
  const limits = await readFile(`/proc/${pid}/limits`, 'utf8');
  const limit = Number(/Max open files\s+(\d+)/.exec(limits)?.[1] ?? NaN);
  return { limit, open: (await readdir(`/proc/${pid}/fd`)).length };
}

/** Busy and total CPU time of the whole machine (all cores) in milliseconds. */
async function machineCpuMs(): Promise<{ busy: number; total: number }> {
  const line = (await readFile('/proc/stat', 'utf8')).split('\n')[0];
  const [user, nice, system, idle, iowait, irq, softirq, steal] = line
    .trim()
    .split(/\s+/)
    .slice(1)
    .map(Number);
  const busy = user + nice + system + irq + softirq + steal;
  return { busy: busy * MS_PER_TICK, total: (busy + idle + iowait) * MS_PER_TICK };
}

/**
 * The pid of a server binary this process started with `port` among its arguments (the harness's private
 * nats-server and redis-server, which report no pid). Only this process's children count: other work on
 * the machine may run servers on the same port number in other network namespaces.
 */
export function pidOfServer(binary: string, port: number): number | undefined {
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const parent = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (parent !== process.pid) continue;
      const argv = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
      // redis-server rewrites its title to "redis-server 127.0.0.1:<port>".
      const names = (a: string) => a === String(port) || a.endsWith(`:${port}`);
      if (argv[0].split(' ')[0].endsWith(binary) && argv.some((a) => a.split(' ').some(names))) {
        return Number(entry);
      }
    } catch {
      // The process ended while the list was read.
    }
  }
  return undefined;
}

/** CPU time over one phase: of each named process, of this (load generator) process, of the machine. */
export interface CpuReport {
  wallMs: number;
  /** Milliseconds of CPU per named process (ws-gateway, nats-server, idle-socket workers ...). */
  processMs: Record<string, number>;
  /** The load generator (this process): CPU ms and how busy its event loop was (0..1). */
  generatorMs: number;
  generatorEventLoopUtilization: number;
  /** Busy cores of the whole machine over the phase (other engineers' work included), and the core count. */
  machineBusyCores: number;
  cores: number;
}

/** Starts measuring; the returned function ends the phase and reports. */
export async function startCpuMeter(
  processes: Record<string, number | undefined>,
  cores: number,
): Promise<() => Promise<CpuReport>> {
  const named = Object.entries(processes).filter((e): e is [string, number] => e[1] !== undefined);
  const before = await Promise.all(named.map(([, pid]) => cpuMsOf(pid)));
  const machineBefore = await machineCpuMs();
  const generatorBefore = process.cpuUsage();
  const eluBefore = performance.eventLoopUtilization();
  const t0 = performance.now();
  return async () => {
    const wallMs = performance.now() - t0;
    const generator = process.cpuUsage(generatorBefore);
    const elu = performance.eventLoopUtilization(eluBefore);
    const after = await Promise.all(named.map(([, pid]) => cpuMsOf(pid).catch(() => NaN)));
    const machineAfter = await machineCpuMs();
    return {
      wallMs: Math.round(wallMs),
      processMs: Object.fromEntries(named.map(([name], i) => [name, after[i] - before[i]])),
      generatorMs: Math.round((generator.user + generator.system) / 1000),
      generatorEventLoopUtilization: Math.round(elu.utilization * 100) / 100,
      machineBusyCores:
        Math.round(
          ((machineAfter.busy - machineBefore.busy) / (machineAfter.total - machineBefore.total)) *
            cores *
            100,
        ) / 100,
      cores,
    };
  };
}
