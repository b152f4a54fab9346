/**
 * Summarizes a V8 CPU profile (the `.cpuprofile` format of Chrome DevTools and the inspector's
 * Profiler.stop): self time per function and per package, so a benchmark run can say where a service's
 * CPU goes without opening DevTools.
 */

export interface ProfileCallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
  columnNumber?: number;
}

export interface ProfileNode {
  id: number;
  callFrame: ProfileCallFrame;
  hitCount?: number;
  children?: number[];
}

/** The inspector's Profiler.Profile: times in microseconds. */
export interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples?: number[];
  timeDeltas?: number[];
}

export interface SelfTime {
  name: string;
  selfMs: number;
  /** Share of the busy (non-idle) time, 0..1. */
  share: number;
}

export interface ProfileSummary {
  /** Wall time the profile covers. */
  wallMs: number;
  /** Sampled time not spent idle (the event loop waiting). */
  busyMs: number;
  /** Self time per package or group (node internals, crypto, ws, nats, zod/ajv, pino, our files ...). */
  groups: SelfTime[];
  /** The functions with the most self time, as "name (file:line) [group]". */
  top: SelfTime[];
}

/** Packages that belong to one group in the summary. */
const PACKAGE_GROUPS: Record<string, string> = {
  nats: 'nats',
  '@nats-io/nats-core': 'nats',
  '@nats-io/nkeys': 'nats',
  '@nats-io/nuid': 'nats',
  zod: 'zod/ajv',
  ajv: 'zod/ajv',
  'ajv-formats': 'zod/ajv',
  'fast-uri': 'zod/ajv',
  pino: 'pino',
  'pino-std-serializers': 'pino',
  'sonic-boom': 'pino',
  'thread-stream': 'pino',
  'fast-redact': 'pino',
  'quick-format-unescaped': 'pino',
  'on-exit-leak-free': 'pino',
  ws: 'ws',
};

/** Our own code: a file of a workspace, named from the repository root without `dist/`. */
const OUR_FILE = /\/((?:libs|services|tools|tests)\/[^/]+)\/(?:dist\/)?(.+)$/;

/** A C++ binding or builtin (writev, writeBuffer ...): no script of its own. */
const NATIVE = 'native (no script)';

const frameName = (n: ProfileNode) => {
  const where = locationOf(n.callFrame);
  return `${n.callFrame.functionName || '(anonymous)'}${where ? ` (${where})` : ''}`;
};

/**
 * A native frame is charged to the group of its nearest caller with a script, and named with that caller
 * and the first caller outside node's internals (a socket write then says whether ws, nats or pino made it).
 */
function attributeNative(
  node: ProfileNode,
  parentOf: Map<number, ProfileNode>,
): { group: string; name: string } {
  const chain = [`${node.callFrame.functionName || '(anonymous)'} (native)`];
  let group: string | undefined;
  for (let p = parentOf.get(node.id); p; p = parentOf.get(p.id)) {
    const g = groupOf(p.callFrame);
    if (g === NATIVE) continue;
    if (g.startsWith('program') || g === 'idle') break;
    if (group !== undefined && g === 'node internals') continue;
    chain.push(frameName(p));
    if (group !== undefined || g !== 'node internals') {
      group ??= g;
      break;
    }
    group = g;
  }
  return { group: group ?? NATIVE, name: chain.join(' <- ') };
}

/** The group a sampled frame is counted in. */
export function groupOf(frame: Pick<ProfileCallFrame, 'url' | 'functionName'>): string {
  const url = frame.url.replace(/^file:\/\//, '');
  if (url === '') {
    if (frame.functionName === '(idle)') return 'idle';
    if (frame.functionName === '(garbage collector)') return 'gc';
    if (frame.functionName === '(program)' || frame.functionName === '(root)') return 'program (V8, native)';
    return NATIVE;
  }
  if (url.startsWith('node:internal/crypto') || url === 'node:crypto') return 'crypto';
  if (url.startsWith('node:')) return 'node internals';
  const nm = url.lastIndexOf('/node_modules/');
  if (nm >= 0) {
    const parts = url.slice(nm + '/node_modules/'.length).split('/');
    const pkg = parts[0].startsWith('@') ? `${parts[0]}/${parts[1]}` : parts[0];
    const rest = parts
      .slice(pkg.startsWith('@') ? 2 : 1)
      .join('/')
      .replace(/^dist\//, '');
    if (pkg.startsWith('@tapgate/')) return `ours ${pkg}/${rest}`;
    return PACKAGE_GROUPS[pkg] ?? pkg;
  }
  const ours = OUR_FILE.exec(url);
  if (ours) return `ours ${ours[1]}/${ours[2]}`;
  return 'other';
}

/** A short place for a frame: the path from node_modules or the repository root, and a 1-based line. */
function locationOf(frame: ProfileCallFrame): string {
  const url = frame.url.replace(/^file:\/\//, '');
  if (url === '') return '';
  const nm = url.lastIndexOf('/node_modules/');
  const ours = OUR_FILE.exec(url);
  const short = nm >= 0 ? url.slice(nm + '/node_modules/'.length) : ours ? `${ours[1]}/${ours[2]}` : url;
  return `${short}:${frame.lineNumber + 1}`;
}

/**
 * Self time per function and group. Each sample is charged the time until the next sample (the last one
 * until the profile's end), as DevTools does; a profile without samples falls back to hit counts.
 */
export function summarizeProfile(profile: CpuProfile, opts: { top?: number } = {}): ProfileSummary {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const selfUs = new Map<number, number>();
  const samples = profile.samples ?? [];
  const deltas = profile.timeDeltas ?? [];
  if (samples.length > 0 && deltas.length === samples.length) {
    let at = profile.startTime;
    const times = deltas.map((d) => (at += d));
    for (let i = 0; i < samples.length; i++) {
      const until = i + 1 < samples.length ? times[i + 1] : profile.endTime;
      selfUs.set(samples[i], (selfUs.get(samples[i]) ?? 0) + Math.max(0, until - times[i]));
    }
  } else {
    const hits = profile.nodes.reduce((s, n) => s + (n.hitCount ?? 0), 0);
    const perHit = hits > 0 ? (profile.endTime - profile.startTime) / hits : 0;
    for (const n of profile.nodes) if (n.hitCount) selfUs.set(n.id, n.hitCount * perHit);
  }

  const parentOf = new Map<number, ProfileNode>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parentOf.set(c, n);
  const groups = new Map<string, number>();
  const functions = new Map<string, number>();
  let busyUs = 0;
  for (const [id, us] of selfUs) {
    const node = byId.get(id);
    if (!node) continue;
    const own = groupOf(node.callFrame);
    if (own === 'idle') continue;
    busyUs += us;
    const { group, name } =
      own === NATIVE ? attributeNative(node, parentOf) : { group: own, name: frameName(node) };
    groups.set(group, (groups.get(group) ?? 0) + us);
    const key = `${name} [${group}]`;
    functions.set(key, (functions.get(key) ?? 0) + us);
  }
  const ranked = (m: Map<string, number>, limit: number): SelfTime[] =>
    [...m]
      .sort((a, b) => b[1] - a[1])
      .slice(0, limit)
      .map(([name, us]) => ({
        name,
        selfMs: Math.round(us) / 1000,
        share: busyUs > 0 ? Math.round((us / busyUs) * 1000) / 1000 : 0,
      }));
  return {
    wallMs: Math.round(profile.endTime - profile.startTime) / 1000,
    busyMs: Math.round(busyUs) / 1000,
    groups: ranked(groups, Infinity),
    top: ranked(functions, opts.top ?? 10),
  };
}

/** A few lines for the console: the groups on one line, then the top functions. */
export function formatProfileSummary(s: ProfileSummary, opts: { groups?: number } = {}): string[] {
  const pct = (x: number) => `${(x * 100).toFixed(1)}%`;
  return [
    `  by package: ${s.groups
      .slice(0, opts.groups ?? 10)
      .map((g) => `${g.name} ${pct(g.share)}`)
      .join(', ')}`,
    ...s.top.map((f) => `    ${pct(f.share).padStart(6)}  ${f.name}`),
  ];
}
