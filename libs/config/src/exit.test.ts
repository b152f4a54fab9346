import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { after, describe, it } from 'node:test';
import { loadOrExit } from './index';
import { scratch } from './test-helpers';

const LIB = require.resolve('./index');

/** Runs a tiny main that loads the config through loadOrExit, as services do. */
function runMain(env: NodeJS.ProcessEnv) {
  const script = `
    const { loadOrExit, loadAgentConfig } = require(${JSON.stringify(LIB)});
    const cfg = loadOrExit(() => loadAgentConfig());
    process.stdout.write('port ' + cfg.agent.port);
  `;
  return spawnSync(process.execPath, ['-e', script], {
    env: { PATH: process.env.PATH, ...env },
    encoding: 'utf8',
  });
}

describe('loadOrExit', () => {
  const tmp = scratch('exit');
  after(() => tmp.dispose());

  it('prints "config error: <message>" to stderr and exits with status 2', () => {
    const file = tmp.write('nymi_agent.toml', '[agent]\nport = 70000\n');
    const run = runMain({ TAPGATE_CONFIG: file });
    assert.equal(run.status, 2, run.stderr);
    assert.equal(run.stdout, '');
    assert.equal(run.stderr, `config error: ${file}: [agent].port: must be an integer 1-65535 (got 70000)\n`);
  });

  it('reports environment errors the same way', () => {
    const run = runMain({ TAPGATE_AGENT_PORT: 'abc' });
    assert.equal(run.status, 2);
    assert.equal(
      run.stderr,
      'config error: environment: TAPGATE_AGENT_PORT: must be an integer 1-65535 (got abc)\n',
    );
  });

  it('returns the config when it is valid', () => {
    const run = runMain({ TAPGATE_AGENT_PORT: '9555' });
    assert.equal(run.status, 0, run.stderr);
    assert.equal(run.stdout, 'port 9555');
  });
});

describe('loadOrExit with other errors', () => {
  it('lets errors that are not ConfigError propagate (they are bugs, not configuration)', () => {
    assert.throws(
      () =>
        loadOrExit(() => {
          throw new TypeError('boom');
        }),
      TypeError,
    );
  });
});
