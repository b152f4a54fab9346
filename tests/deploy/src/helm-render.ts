// Renders charts/tapgate with tests/deploy/helm-render (Go text/template + sprig + Helm's functions and
// values coalescing, built here from Debian's Go packages) and parses the manifests into objects.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { isAbsolute, join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { chartDir, isMap, repoRoot, type JsonMap } from './index';

const rendererDir = join(repoRoot, 'tests/deploy/helm-render');

/** Why the renderer cannot be built here (Go or its Debian libraries missing), or undefined when it can. */
export function rendererMissing(): string | undefined {
  const go = spawnSync('go', ['version'], { encoding: 'utf8' });
  if (go.status !== 0) return 'go is not installed (apt-get install golang-go)';
  for (const dir of ['github.com/Masterminds/sprig', 'gopkg.in/yaml.v2', 'github.com/xeipuuv/gojsonschema']) {
    if (!existsSync(join('/usr/share/gocode/src', dir))) {
      return `/usr/share/gocode/src/${dir} is missing (scripts/setup.sh installs it)`;
    }
  }
  return undefined;
}

let built: string | undefined;

/** Builds the renderer once per source version (cached under the temp folder across runs). */
export function rendererBinary(): string {
  if (built) return built;
  const hash = createHash('sha256')
    .update(readFileSync(join(rendererDir, 'main.go')))
    .update(readFileSync(join(rendererDir, 'build.sh')))
    .digest('hex')
    .slice(0, 16);
  const dir = join(tmpdir(), 'tapgate-helm-render');
  mkdirSync(dir, { recursive: true });
  const bin = join(dir, `helm-render-${hash}`);
  if (!existsSync(bin)) {
    const r = spawnSync('bash', [join(rendererDir, 'build.sh'), bin], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`helm-render build failed:\n${r.stderr}${r.stdout}`);
  }
  built = bin;
  return bin;
}

export interface RenderOptions {
  /** Chart folder (absolute); default charts/tapgate. */
  chart?: string;
  /** Values files, relative to the repository (or absolute). */
  valuesFiles?: string[];
  set?: string[];
  release?: string;
  namespace?: string;
  kubeVersion?: string;
  apiVersions?: string[];
  /** Default true: nats and redis are not vendored (`helm dependency build` needs the network). */
  skipMissingDependencies?: boolean;
}

export interface RenderedObject extends JsonMap {
  apiVersion: string;
  kind: string;
  metadata: JsonMap & { name: string };
}

export interface Rendered {
  objects: RenderedObject[];
  /** The manifest each object came from, in the same order. */
  sources: string[];
  notes: string;
}

export class RenderError extends Error {}

export function render(opts: RenderOptions = {}): Rendered {
  const args = [
    '--release',
    opts.release ?? 'tapgate',
    '--namespace',
    opts.namespace ?? 'tapgate',
    '--kube-version',
    opts.kubeVersion ?? 'v1.31.0',
  ];
  if (opts.apiVersions?.length) args.push('--api-versions', opts.apiVersions.join(','));
  if (opts.skipMissingDependencies ?? true) args.push('--skip-missing-dependencies');
  for (const f of opts.valuesFiles ?? []) args.push('-f', isAbsolute(f) ? f : join(repoRoot, f));
  for (const s of opts.set ?? []) args.push('--set', s);
  const r = spawnSync(rendererBinary(), [...args, opts.chart ?? chartDir], {
    encoding: 'utf8',
    maxBuffer: 64 << 20,
  });
  if (r.status !== 0) throw new RenderError(r.stderr.trim());
  const out = JSON.parse(r.stdout) as { manifests: { source: string; content: string }[]; notes: string };
  const objects: RenderedObject[] = [];
  const sources: string[] = [];
  for (const m of out.manifests) {
    for (const doc of parseAllDocuments(m.content)) {
      if (doc.errors.length) throw new RenderError(`${m.source}: invalid YAML: ${doc.errors[0].message}`);
      const obj = doc.toJS() as unknown;
      if (obj === null) continue;
      if (!isMap(obj) || typeof obj.kind !== 'string' || !isMap(obj.metadata)) {
        throw new RenderError(`${m.source}: a document that is not a Kubernetes object`);
      }
      objects.push(obj as RenderedObject);
      sources.push(m.source);
    }
  }
  return { objects, sources, notes: out.notes };
}

/** The rendered error's message, or undefined when the render succeeded. */
export function renderError(opts: RenderOptions): string | undefined {
  try {
    render(opts);
    return undefined;
  } catch (e) {
    if (e instanceof RenderError) return e.message;
    throw e;
  }
}

/** Kubernetes schema violations of one object (kubernetes-models' generated validators), as messages. */
export async function schemaProblems(obj: RenderedObject): Promise<string[]> {
  const [group, version] = obj.apiVersion.includes('/') ? obj.apiVersion.split('/') : ['', obj.apiVersion];
  const pkg =
    group === 'monitoring.coreos.com'
      ? `@kubernetes-models/prometheus-operator/${group}/${version}`
      : `kubernetes-models/${group ? `${group}/` : ''}${version}`;
  let mod: Record<string, unknown>;
  try {
    mod = (await import(pkg)) as Record<string, unknown>;
  } catch {
    return [`${obj.kind} ${obj.metadata.name}: no schema for apiVersion ${obj.apiVersion}`];
  }
  const Model = mod[obj.kind] as (new (data: unknown) => { validate(): void }) | undefined;
  if (!Model) {
    return [`${obj.kind} ${obj.metadata.name}: no schema for kind ${obj.kind} in ${obj.apiVersion}`];
  }
  try {
    new Model(obj).validate();
    return [];
  } catch (e) {
    return [`${obj.kind} ${obj.metadata.name}: ${(e as Error).message}`];
  }
}
