// The images scripts/images.sh built, inspected and run: each service from its own image (buildah run,
// chroot isolation) as the image's user with the image's CMD. Needs TAPGATE_SERVICE_IMAGE (the image name
// with {service}); scripts/test-images.sh builds the images, sets it and then runs this file and the
// end-to-end tests against the images.
import { IMAGE_CONFIG_DIR, Platform, imageRunConfig } from '@tapgate/testing';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { effective, stages } from './dockerfile';
import { getPath, readRepoFile, readYaml } from './index';

const template = process.env.TAPGATE_SERVICE_IMAGE;
if (!template) throw new Error('TAPGATE_SERVICE_IMAGE is not set: run scripts/test-images.sh');
const imageOf = (target: string) => template.replaceAll('{service}', target);

const dockerfile = stages(readRepoFile('docker/Dockerfile'));
/** Every image target: the stages built on the shared runtime stage. */
const TARGETS = dockerfile.filter((s) => s.base === 'runtime').map((s) => s.name!);
const values = readYaml('charts/tapgate/values.yaml');
const chartUser = `${String(getPath(values, ['securityContext', 'runAsUser']))}:${String(
  getPath(values, ['securityContext', 'runAsGroup']),
)}`;
/** Nothing the build needs only: the repository's dev dependencies (TypeScript, ESLint, the node package). */
const DEV_DEPENDENCIES = Object.keys(
  (JSON.parse(readRepoFile('package.json')) as { devDependencies: Record<string, string> }).devDependencies,
);
/** Above this an image has picked up something it should not carry (each measures about 234 MB here). */
const SIZE_BUDGET_BYTES = 260e6;

const buildah = (...args: string[]) => execFileSync('buildah', args, { encoding: 'utf8' }).trim();

/** Files under `root` (relative), not following symbolic links. */
function walk(root: string, rel = ''): string[] {
  const out: string[] = [];
  for (const e of readdirSync(join(root, rel), { withFileTypes: true })) {
    const path = join(rel, e.name);
    out.push(path);
    if (e.isDirectory()) out.push(...walk(root, path));
  }
  return out;
}

describe('the images scripts/images.sh built', () => {
  it('are every Dockerfile target', () => {
    assert.deepEqual(TARGETS.sort(), ['endpoint-node', 'policy', 'presence', 'user-status', 'ws-gateway']);
  });

  for (const target of TARGETS) {
    it(`${target}: runs its Dockerfile CMD as the chart's non-root user, without npm, dev dependencies or sources`, (t) => {
      const image = imageOf(target);
      const config = imageRunConfig(image);
      assert.equal(config.user, chartUser);
      assert.deepEqual(config.command, JSON.parse(effective(dockerfile, target, 'CMD')!.args));
      assert.equal(config.workingDir, '/app');
      // The engine's health check survives the build (podman builds Docker-format images for it).
      assert.deepEqual(
        config.healthcheck,
        target === 'endpoint-node' ? ['NONE'] : ['CMD', 'node', '/app/healthcheck.mjs'],
      );
      const size = Number(
        execFileSync('podman', ['image', 'inspect', '--format', '{{.Size}}', image], { encoding: 'utf8' }),
      );
      t.diagnostic(`${image}: ${(size / 1e6).toFixed(1)} MB`);
      assert.ok(size < SIZE_BUDGET_BYTES, `${image} is ${size} bytes`);

      const container = buildah('from', '--pull-never', '--quiet', image);
      try {
        const root = buildah('mount', container);
        for (const npm of [
          'usr/local/bin/npm',
          'usr/local/bin/npx',
          'usr/local/lib/node_modules',
          'usr/bin/npm',
        ]) {
          assert.ok(!existsSync(join(root, npm)), `${image} has /${npm}`);
        }
        const app = walk(join(root, 'app'));
        for (const dep of DEV_DEPENDENCIES) {
          assert.ok(!app.includes(join('node_modules', dep)), `${image} has the dev dependency ${dep}`);
        }
        const own = app.filter((f) => !f.startsWith('node_modules/'));
        assert.deepEqual(
          own.filter((f) => /(^|\/)src$/.test(f) || (f.endsWith('.ts') && !f.endsWith('.d.ts'))),
          [],
          `${image} carries sources`,
        );
        assert.deepEqual(
          own.filter((f) => /\.(test|cluster-test)\.js$/.test(f)),
          [],
          `${image} carries compiled tests`,
        );
        // Code belongs to root and nobody else may change it: the service user reads, never writes, it.
        for (const f of ['', ...own]) {
          const st = statSync(join(root, 'app', f));
          assert.equal(st.uid, 0, `/app/${f} owner`);
          assert.equal(st.mode & 0o022, 0, `/app/${f} is group/other writable`);
        }
        assert.equal(
          readFileSync(join(root, 'etc/passwd'), 'utf8')
            .match(/^tapgate:x:(\d+):(\d+):/m)
            ?.slice(1)
            .join(':'),
          chartUser,
        );
      } finally {
        buildah('rm', container);
      }
    });
  }
});

describe('the platform run from the images', () => {
  let platform: Platform;
  const dir = mkdtempSync(join(tmpdir(), 'tapgate-images-'));
  before(async () => {
    platform = await Platform.start({
      dir,
      logLevel: 'warn',
      serviceImage: template,
      users: [{ sAMAccountName: 'alice', displayName: 'Alice Able', state: 'active' }],
    });
  });
  after(async () => {
    await platform?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('starts each service from its image as its user, in the image, with the config where the chart mounts it; reports start-up times', (t) => {
    const [uid, gid] = chartUser.split(':');
    for (const proc of platform.processes) {
      const pid = proc.pid();
      assert.ok(pid, `${proc.name} runs`);
      const status = readFileSync(`/proc/${pid}/status`, 'utf8');
      assert.match(status, new RegExp(`^Uid:\\s+${uid}\\s+${uid}\\s+${uid}\\s+${uid}$`, 'm'), proc.name);
      assert.match(status, new RegExp(`^Gid:\\s+${gid}\\s+${gid}\\s+${gid}\\s+${gid}$`, 'm'), proc.name);
      // Its root is the container's file system, not the host's, and it runs the image's CMD in /app.
      assert.notEqual(readlinkSync(`/proc/${pid}/root`), '/', proc.name);
      // buildah resolves the program on the image's PATH (node -> /usr/local/bin/node).
      const [program, ...args] = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
      const [cmd, ...cmdArgs] = imageRunConfig(imageOf(proc.name)).command;
      assert.equal(basename(program), cmd, proc.name);
      assert.deepEqual(args, cmdArgs, proc.name);
      assert.match(
        readFileSync(`/proc/${pid}/environ`, 'utf8'),
        new RegExp(`(^|\\0)TAPGATE_CONFIG=${IMAGE_CONFIG_DIR}/nymi_agent.toml\\0`),
      );
      t.diagnostic(`${proc.name}: ready ${proc.readyMs} ms after buildah run`);
    }
    assert.deepEqual(platform.processes.map((p) => p.name).sort(), [
      'policy',
      'presence',
      'user-status',
      'ws-gateway',
    ]);
  });

  it('stops each service with SIGTERM through its own shutdown (exit code 0)', async () => {
    for (const proc of [...platform.processes].reverse()) {
      await proc.stop();
      assert.equal(proc.child.exitCode, 0, `${proc.name} exit code`);
    }
  });
});
