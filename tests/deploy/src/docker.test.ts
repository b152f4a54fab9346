// docker/: the image recipe of every service, its build context, and the container health check.
import { strict as assert } from 'node:assert';
import { spawn } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { dockerIgnores, dockerignorePatterns, effective, instructions, lineage, stages } from './dockerfile';
import { getPath, listRepoFiles, readRepoFile, readYaml, repoRoot } from './index';

const dockerfile = readRepoFile('docker/Dockerfile');
const all = stages(dockerfile);
const values = readYaml('charts/tapgate/values.yaml');
const SERVICES = ['ws-gateway', 'presence', 'user-status', 'policy'];
const TARGETS = [...SERVICES, 'endpoint-node'];
const SECRET_FILE =
  /(^|\/)(\.env(\.[\w-]+)?|\.npmrc|id_rsa\w*|id_ed25519\w*|[\w.-]+\.(pem|key|p12|pfx|jwk))$/i;

describe('dockerfile reader', () => {
  it('joins continuations, skips comments and resolves global ARGs in FROM', () => {
    const s = stages(
      'ARG B=node:24-x\nFROM ${B} AS one\nRUN a \\\n  # note\n  && b\nFROM one AS two\nUSER 1:1\n',
    );
    assert.deepEqual(
      s.map((x) => [x.name, x.base]),
      [
        ['one', 'node:24-x'],
        ['two', 'one'],
      ],
    );
    assert.equal(s[0].instructions[0].args, 'a && b');
    assert.equal(effective(s, 'two', 'RUN')?.args, 'a && b');
  });

  it('applies .dockerignore rules like Docker does', () => {
    const p = ['**/node_modules', '**/*.pem', '.git', 'docs', '!docs/keep.md'];
    assert.ok(dockerIgnores(p, 'node_modules/x/index.js'));
    assert.ok(dockerIgnores(p, 'libs/a/node_modules/x'));
    assert.ok(dockerIgnores(p, 'certs/dev/server.pem'));
    assert.ok(dockerIgnores(p, '.git/config'));
    assert.ok(dockerIgnores(p, 'docs/a.md'));
    assert.ok(!dockerIgnores(p, 'docs/keep.md'));
    assert.ok(!dockerIgnores(p, 'libs/a/src/index.ts'));
    assert.ok(!dockerIgnores(p, 'libs/docs/x.ts'));
  });
});

describe('docker/Dockerfile', () => {
  it('builds on node:24 and runs on the same Debian release, with only the node binary copied over', () => {
    const names = new Set(all.map((s) => s.name));
    const external = all.filter((s) => !names.has(s.base));
    const runtime = all.find((s) => s.name === 'runtime')!;
    for (const stage of external.filter((s) => s !== runtime)) {
      assert.match(
        stage.base,
        /^(docker\.io\/)?(library\/)?node:24-(\w+)-slim(@sha256:[0-9a-f]{64})?$/,
        `stage ${stage.name}`,
      );
    }
    assert.ok(
      all.some((s) => s.base.startsWith('node:24') && s.instructions.some((i) => /npm ci/.test(i.args))),
    );
    // The node binary links against the build image's glibc and libstdc++: the runtime's Debian must match.
    const suite = /^node:24-(\w+)-slim/.exec(all.find((s) => s.name === 'build')!.base)?.[1];
    assert.match(runtime.base, new RegExp(`^(docker\\.io\\/)?(library\\/)?debian:${suite}-slim$`));
    assert.deepEqual(
      runtime.instructions.filter((i) => i.keyword === 'COPY' && i.args.includes('/bin/')).map((i) => i.args),
      ['--from=build /out/bin/node /usr/local/bin/node'],
    );
  });

  it('has a target per service plus the endpoint node, each running as a numeric non-root user', () => {
    for (const target of TARGETS) {
      assert.ok(
        all.some((s) => s.name === target),
        `no target ${target}`,
      );
      const user = effective(all, target, 'USER');
      assert.ok(user, `${target}: no USER`);
      const m = /^(\d+)(?::(\d+))?$/.exec(user.args);
      assert.ok(m, `${target}: USER ${user.args} is not numeric`);
      assert.notEqual(Number(m[1]), 0, `${target} runs as root`);
      assert.equal(Number(m[1]), getPath(values, ['securityContext', 'runAsUser']), 'USER matches the chart');
      const cmd = effective(all, target, 'CMD');
      assert.equal(cmd?.args, `["node", "services/${target}/dist/main.js"]`);
    }
  });

  it('exposes the ports the chart uses and checks health where there is an HTTP endpoint', () => {
    const exposed = (t: string) =>
      lineage(all, t)
        .flatMap((s) => s.instructions.filter((i) => i.keyword === 'EXPOSE'))
        .flatMap((i) => i.args.split(/\s+/).map(Number))
        .sort((a, b) => a - b);
    const http = Number(getPath(values, ['http', 'port']));
    const gw = (k: string) => Number(getPath(values, ['wsGateway', k, 'port']));
    assert.deepEqual(
      exposed('ws-gateway'),
      [gw('webapi'), http, gw('standard')].sort((a, b) => a - b),
    );
    for (const s of ['presence', 'user-status', 'policy']) assert.deepEqual(exposed(s), [http], s);
    for (const s of SERVICES) {
      assert.match(effective(all, s, 'HEALTHCHECK')!.args, /CMD \["node", "\/app\/healthcheck\.mjs"\]/);
    }
    assert.equal(effective(all, 'endpoint-node', 'HEALTHCHECK')?.args, 'NONE');
  });

  it('copies no secret files and declares no secret build args or variables', () => {
    for (const ins of instructions(dockerfile)) {
      if (ins.keyword === 'COPY' || ins.keyword === 'ADD') {
        const sources = ins.args
          .split(/\s+/)
          .filter((w) => !w.startsWith('--'))
          .slice(0, -1);
        for (const src of sources) assert.doesNotMatch(src, SECRET_FILE, `line ${ins.line}`);
        assert.doesNotMatch(ins.args, /secret|credential|\.env\b/i, `line ${ins.line}`);
      }
      if (ins.keyword === 'ARG' || ins.keyword === 'ENV') {
        assert.doesNotMatch(
          ins.args,
          /PASSWORD|SECRET|TOKEN|PRIVATE|CREDENTIAL|API_KEY/i,
          `line ${ins.line}`,
        );
      }
    }
  });

  it('is built by docker-bake.hcl under the same target names', () => {
    const bake = readRepoFile('docker/docker-bake.hcl');
    const bakeTargets = [...bake.matchAll(/^target "([\w-]+)"/gm)]
      .map((m) => m[1])
      .filter((t) => !t.startsWith('_'));
    assert.deepEqual(bakeTargets.sort(), [...TARGETS].sort());
    for (const t of TARGETS) assert.match(bake, new RegExp(`target\\s+=\\s+"${t}"`));
    assert.match(bake, /dockerfile = "docker\/Dockerfile"/);
  });
});

describe('.dockerignore', () => {
  const patterns = dockerignorePatterns(readRepoFile('.dockerignore'));

  it('keeps secrets, local state and dependencies out of the build context', () => {
    for (const path of [
      '.env',
      'services/ws-gateway/.env.local',
      'certs/server.key',
      'libs/testing/fixtures/ca.pem',
      '.npmrc',
      'node_modules/ws/index.js',
      'libs/config/node_modules/x/index.js',
      'libs/config/dist/index.js',
      '.git/HEAD',
      'bands/alice.jwk',
      '.cache/previous/0123abc/libs/contracts/src/index.ts',
    ]) {
      assert.ok(dockerIgnores(patterns, path), `${path} would reach the builder`);
    }
  });

  it('lets through everything the build needs', () => {
    const needed = [
      'package.json',
      'package-lock.json',
      'tsconfig.json',
      'tsconfig.base.json',
      'docker/healthcheck.mjs',
      ...listRepoFiles('libs'),
      ...listRepoFiles('services'),
      ...listRepoFiles('tests'),
    ].filter(
      (f) => /(^|\/)(package\.json|tsconfig[\w.]*\.json)$|\.(ts|mjs|json)$/.test(f) && !SECRET_FILE.test(f),
    );
    assert.ok(needed.length > 20);
    const dropped = needed.filter((f) => dockerIgnores(patterns, f));
    assert.deepEqual(dropped, []);
  });
});

describe('docker/healthcheck.mjs', () => {
  let server: Server;
  let status = 200;
  let hang = false;
  let port = 0;
  before(async () => {
    server = createServer((req, res) => {
      if (hang) return;
      res.statusCode = req.url === '/healthz' ? status : 404;
      res.end();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });
  after(() => {
    server.closeAllConnections();
    server.close();
  });

  const run = (httpPort: number): Promise<number> =>
    new Promise((resolve) => {
      const child = spawn(process.execPath, [join(repoRoot, 'docker/healthcheck.mjs')], {
        env: { ...process.env, TAPGATE_HTTP_PORT: String(httpPort) },
        stdio: 'ignore',
      });
      child.on('exit', (code) => resolve(code ?? -1));
    });

  it('passes when /healthz answers 2xx', async () => {
    status = 200;
    assert.equal(await run(port), 0);
  });

  it('fails on an error status, a closed port and a hung server', async () => {
    status = 503;
    assert.equal(await run(port), 1);
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const closedPort = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    assert.equal(await run(closedPort), 1);
    hang = true;
    const started = Date.now();
    assert.equal(await run(port), 1);
    assert.ok(Date.now() - started < 5000, 'gave up within its timeout');
    hang = false;
  });
});
