import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { superviseServiceProcess, type ServiceProcess } from './service-process';

/** What an OCI image says about how to run it (the parts `buildah run` needs). */
export interface ImageRunConfig {
  user: string;
  workingDir: string;
  command: string[];
}

/** The image's USER, WORKDIR and ENTRYPOINT + CMD, and its HEALTHCHECK test, read with `buildah inspect`. */
export function imageRunConfig(image: string): ImageRunConfig & { healthcheck?: string[] } {
  const inspected = JSON.parse(
    execFileSync('buildah', ['inspect', '--type', 'image', image], { encoding: 'utf8', maxBuffer: 64e6 }),
  ) as {
    OCIv1: {
      config?: { User?: string; WorkingDir?: string; Entrypoint?: string[] | null; Cmd?: string[] | null };
    };
    Docker?: { config?: { Healthcheck?: { Test?: string[] } } };
  };
  const config = inspected.OCIv1.config ?? {};
  const command = [...(config.Entrypoint ?? []), ...(config.Cmd ?? [])];
  if (command.length === 0) throw new Error(`image ${image} has no ENTRYPOINT or CMD`);
  return {
    user: config.User || '0',
    workingDir: config.WorkingDir || '/',
    command,
    healthcheck: inspected.Docker?.config?.Healthcheck?.Test,
  };
}

/** A host path bind-mounted into the container. */
export interface ImageMount {
  host: string;
  container: string;
  readOnly?: boolean;
}

/**
 * Runs a program from a container image the way its container would: a new container from the image
 * (`buildah from`), then `buildah run --isolation chroot` as the image's USER, in its WORKDIR, with its
 * ENTRYPOINT + CMD, the given environment and bind mounts, on the host network. Used where no OCI
 * runtime can run containers (rlimits cannot be set in this sandbox, so `podman run` fails). The
 * container is removed when the program exits.
 */
/** How long a service started from its image may take to answer /readyz (a process from dist: 30 s). */
const IMAGE_READY_TIMEOUT_MS = 90_000;

export async function startImageProcess(opts: {
  name: string;
  image: string;
  /** Appended to the image's ENTRYPOINT + CMD. */
  args?: string[];
  env: Record<string, string>;
  mounts: ImageMount[];
  logFile: string;
  readyUrl?: string;
  timeoutMs?: number;
}): Promise<ServiceProcess & { config: ImageRunConfig }> {
  const config = imageRunConfig(opts.image);
  const container = execFileSync(
    'buildah',
    [
      'from',
      '--pull-never',
      '--quiet',
      '--name',
      `tapgate-${opts.name}-${randomBytes(4).toString('hex')}`,
      opts.image,
    ],
    { encoding: 'utf8' },
  ).trim();
  const child = spawn(
    'buildah',
    [
      'run',
      '--isolation',
      'chroot',
      '--user',
      config.user,
      '--workingdir',
      config.workingDir,
      ...opts.mounts.flatMap((m) => ['--volume', `${m.host}:${m.container}${m.readOnly ? ':ro' : ''}`]),
      ...Object.entries(opts.env).flatMap(([k, v]) => ['--env', `${k}=${v}`]),
      container,
      '--',
      ...config.command,
      ...(opts.args ?? []),
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const proc = await superviseServiceProcess(child, {
    ...opts,
    // A service from its image starts under buildah's chroot helpers: with several platforms booting
    // at once on 2 cores (test:images runs 4 files in parallel) readiness has taken over 30 s.
    timeoutMs: opts.timeoutMs ?? IMAGE_READY_TIMEOUT_MS,
    // buildah run ends the program with SIGKILL when it gets SIGTERM itself, so the program (the
    // processes under buildah's chroot helpers) is signalled directly: the service's own shutdown runs.
    programPids: () => (child.pid === undefined ? [] : programProcesses(child.pid)),
    cleanup: () => {
      try {
        execFileSync('buildah', ['rm', container], { stdio: 'ignore' });
      } catch {
        // Removed already, or buildah is gone; nothing else holds the container.
      }
    },
  });
  return Object.assign(proc, { config });
}

/** Descendants of `root` that are not buildah's own helpers, outermost first. */
function programProcesses(root: number): number[] {
  const children = new Map<number, number[]>();
  const names = new Map<number, string>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      // pid (comm) state ppid ...: comm may hold spaces and parentheses, so split at the last ')'.
      const close = stat.lastIndexOf(')');
      const ppid = Number(stat.slice(close + 2).split(' ')[1]);
      names.set(Number(entry), stat.slice(stat.indexOf('(') + 1, close));
      children.set(ppid, [...(children.get(ppid) ?? []), Number(entry)]);
    } catch {
      // The process ended while we read.
    }
  }
  const out: number[] = [];
  const queue = [...(children.get(root) ?? [])];
  while (queue.length > 0) {
    const pid = queue.shift()!;
    // buildah's helpers re-execute themselves from memory (comm "memfd:buildah-c…").
    if (!names.get(pid)?.includes('buildah')) out.push(pid);
    queue.push(...(children.get(pid) ?? []));
  }
  return out;
}
