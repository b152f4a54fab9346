import { execFileSync, spawnSync } from 'node:child_process';
import {
  existsSync,
  globSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { join, relative } from 'node:path';
import { REPO_ROOT } from './service-process';

/**
 * The previous release: the commit whose ws-gateway the mixed-version test runs next to the current one.
 * The one place it is pinned. To bump it at a release, set it to the full hash of the commit that was
 * released (`git rev-parse <tag>`); the first test run afterwards extracts and builds it once.
 */
export const PREVIOUS_RELEASE_COMMIT = 'ac4a641068c586e27d20516f75bbdcee38a3e3e0';

/** Where extracted and built releases are kept, one folder per commit (gitignored). */
export const PREVIOUS_RELEASE_CACHE = join(REPO_ROOT, '.cache', 'previous');

/** Written last, after a successful build: a folder without it is incomplete and built again. */
const READY_STAMP = '.tapgate-previous-release.json';

export interface PreviousRelease {
  commit: string;
  /** The extracted tree. */
  dir: string;
  /** Its gateway's entry point, to run with this repository's Node. */
  gatewayScript: string;
  /** How long this call took to extract and build it (near 0 when it came from the cache). */
  preparedMs: number;
  /** How long the build took when it was made (the first run's figure, also for cached trees). */
  buildMs: number;
  cached: boolean;
}

interface LockEntry {
  version?: string;
  link?: boolean;
  dev?: boolean;
}

/**
 * Runtime (non-dev) third-party packages whose locked version differs between the old tree's
 * package-lock.json and the current one (or which the current tree lacks). The old tree runs on the
 * current tree's node_modules, so each of these would run a version the previous release never shipped
 * with. Workspace links and dev-only tools (the current tsc builds the old tree) do not count.
 */
export function lockDifferences(oldLock: string, currentLock: string): string[] {
  const packages = (text: string) =>
    (JSON.parse(text) as { packages?: Record<string, LockEntry> }).packages ?? {};
  const before = packages(oldLock);
  const now = packages(currentLock);
  const out: string[] = [];
  for (const [path, entry] of Object.entries(before)) {
    if (!path.startsWith('node_modules/') || entry.link || entry.dev) continue;
    const current = now[path];
    if (current === undefined) out.push(`${path}: ${entry.version} there, absent here`);
    else if (current.version !== entry.version) {
      out.push(`${path}: ${entry.version} there, ${current.version} here`);
    }
  }
  return out;
}

/** The workspaces a tree declares (package.json "workspaces" globs), by package name. */
function workspaces(dir: string): Map<string, string> {
  const globs = (JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { workspaces: string[] })
    .workspaces;
  const out = new Map<string, string>();
  for (const folder of globSync(globs, { cwd: dir })) {
    const manifest = join(dir, folder, 'package.json');
    if (!existsSync(manifest)) continue;
    out.set((JSON.parse(readFileSync(manifest, 'utf8')) as { name: string }).name, folder);
  }
  return out;
}

/**
 * node_modules for the old tree without copying or installing anything: every entry links to the
 * current tree's entry, except the workspace packages (@tapgate/*), which link to the old tree's own
 * libs and services, so the old gateway loads the old contracts, not the new ones.
 */
function linkNodeModules(dir: string): void {
  const current = join(REPO_ROOT, 'node_modules');
  const target = join(dir, 'node_modules');
  mkdirSync(target);
  const own = workspaces(dir);
  const ownScopes = new Set(
    [...own.keys()].map((name) => name.split('/')[0]).filter((s) => s.startsWith('@')),
  );
  for (const entry of readdirSync(current)) {
    if (ownScopes.has(entry)) continue;
    symlinkSync(join(current, entry), join(target, entry));
  }
  for (const [name, folder] of own) {
    const link = join(target, name);
    mkdirSync(join(link, '..'), { recursive: true });
    symlinkSync(relative(join(link, '..'), join(dir, folder)), link);
  }
}

/**
 * Why the previous release cannot be prepared here, or undefined when it can: no git history with the
 * commit (an image build context, a shallow clone), or the platform runs from images
 * (TAPGATE_SERVICE_IMAGE), where the current side would not be this tree's build.
 */
export function previousReleaseUnavailable(commit = PREVIOUS_RELEASE_COMMIT): string | undefined {
  if (process.env.TAPGATE_SERVICE_IMAGE) return 'the platform runs from images (TAPGATE_SERVICE_IMAGE)';
  if (existsSync(join(PREVIOUS_RELEASE_CACHE, commit, READY_STAMP))) return undefined;
  const probe = spawnSync('git', ['-C', REPO_ROOT, 'cat-file', '-e', `${commit}^{commit}`]);
  return probe.status === 0 ? undefined : `commit ${commit} is not in this repository's git history`;
}

/**
 * The previous release's tree, extracted from git history (`git archive`) into the cache and built just
 * enough to run its ws-gateway (`tsc -b services/ws-gateway/tsconfig.json` with this tree's TypeScript).
 * A second call for the same commit returns the cached tree at once. Throws with the reason when there is
 * no git history (an image build context), when the runtime dependencies differ (lockDifferences), or
 * when the build fails.
 */
export function preparePreviousRelease(commit = PREVIOUS_RELEASE_COMMIT): PreviousRelease {
  const started = Date.now();
  const dir = join(PREVIOUS_RELEASE_CACHE, commit);
  const gatewayScript = join(dir, 'services', 'ws-gateway', 'dist', 'main.js');
  const stamp = join(dir, READY_STAMP);
  if (existsSync(stamp)) {
    const { buildMs } = JSON.parse(readFileSync(stamp, 'utf8')) as { buildMs: number };
    return { commit, dir, gatewayScript, preparedMs: Date.now() - started, buildMs, cached: true };
  }
  const unavailable = previousReleaseUnavailable(commit);
  if (unavailable !== undefined) {
    throw new Error(
      `previous release: ${unavailable}; fetch it, or bump PREVIOUS_RELEASE_COMMIT (libs/testing/src/previous-release.ts)`,
    );
  }
  const git = (args: string[]) => execFileSync('git', ['-C', REPO_ROOT, ...args], { maxBuffer: 1 << 30 });
  // Built in a folder of its own and renamed into place, so an interrupted run leaves no half tree.
  const work = `${dir}.partial-${process.pid}`;
  rmSync(work, { recursive: true, force: true });
  mkdirSync(work, { recursive: true });
  try {
    const tar = spawnSync('tar', ['-x', '-C', work], { input: git(['archive', commit]) });
    if (tar.status !== 0) throw new Error(`tar -x failed: ${tar.stderr.toString()}`);
    const differences = lockDifferences(
      readFileSync(join(work, 'package-lock.json'), 'utf8'),
      readFileSync(join(REPO_ROOT, 'package-lock.json'), 'utf8'),
    );
    if (differences.length > 0) {
      throw new Error(
        `previous release ${commit} locks other runtime packages than this tree, whose node_modules it ` +
          `would run on:\n  ${differences.join('\n  ')}\n` +
          'run it from its own `npm ci` instead, or bump PREVIOUS_RELEASE_COMMIT',
      );
    }
    linkNodeModules(work);
    const buildStarted = Date.now();
    const build = spawnSync(
      process.execPath,
      [
        join(REPO_ROOT, 'node_modules', 'typescript', 'bin', 'tsc'),
        '-b',
        'services/ws-gateway/tsconfig.json',
      ],
      { cwd: work, encoding: 'utf8' },
    );
    if (build.status !== 0) {
      throw new Error(`building previous release ${commit} failed:\n${build.stdout}${build.stderr}`);
    }
    const buildMs = Date.now() - buildStarted;
    writeFileSync(join(work, READY_STAMP), JSON.stringify({ commit, buildMs }));
    rmSync(dir, { recursive: true, force: true });
    renameSync(work, dir);
    return { commit, dir, gatewayScript, preparedMs: Date.now() - started, buildMs, cached: false };
  } catch (e) {
    rmSync(work, { recursive: true, force: true });
    throw e;
  }
}
