import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { PROTOTYPE_KEYS, fuzzRandom, fuzzSeed, type Rand } from '@tapgate/testing';
import { ConfigError } from './errors';
import { loadAgentConfig } from './load-agent';
import { loadEndpointConfig } from './load-endpoint';
import { AGENT_SECTIONS } from './registry';
import { scratch } from './test-helpers';

/**
 * Seeded fuzzing of the config loaders: random and mutated nymi_agent.toml / nbe.toml files and random
 * TAPGATE_* environment overrides. Whatever the input, the loader returns a config or throws a
 * ConfigError naming the file (or the environment) and the key; never another exception.
 * Reproduce with TAPGATE_FUZZ_SEED=<seed>.
 */
const SEED = fuzzSeed(0xc0f16);
const CASES = 2500;

const SECTIONS = Object.values(AGENT_SECTIONS).map((s) => ({ name: s.name, keys: Object.keys(s.fields) }));
const NASTY_KEYS = PROTOTYPE_KEYS;

const TOML_VALUES = [
  '0',
  '-1',
  '1',
  '65535',
  '65536',
  '9223372036854775807',
  '99999999999999999999999',
  '1e400',
  'inf',
  'nan',
  '-0.0',
  '0x7fff',
  '0o777',
  'true',
  'false',
  '""',
  '"ws"',
  '"wss"',
  '"debug"',
  '"nats://127.0.0.1:4222"',
  '"ldaps://dc.example:636"',
  '"http://[::1]:4318"',
  '"10.0.0.0/8"',
  '"missing-file.pem"',
  '"../../../../etc/shadow"',
  '"\\u0000"',
  '"a\\tb"',
  `"${'x'.repeat(5000)}"`,
  '[]',
  '["a", 1]',
  '["10.0.0.0/33", "::1"]',
  '{ a = 1 }',
  '{ __proto__ = { polluted = true } }',
  '1979-05-27T07:32:00Z',
  "'literal'",
  '"""multi\nline"""',
];

function randomToml(r: Rand): string {
  const lines: string[] = [];
  for (let s = r.int(0, 6); s > 0; s--) {
    const section = r() < 0.9 ? r.pick(SECTIONS) : { name: r.pick(NASTY_KEYS), keys: NASTY_KEYS };
    lines.push(r() < 0.05 ? `[[${section.name}]]` : `[${section.name}]`);
    for (let k = r.int(0, 6); k > 0; k--) {
      const key = r() < 0.85 ? r.pick(section.keys) : r.pick(NASTY_KEYS);
      lines.push(`${r() < 0.05 ? `"${key}"` : key} = ${r.pick(TOML_VALUES)}`);
    }
  }
  if (r() < 0.1) lines.unshift(`${r.pick(NASTY_KEYS)} = 1`);
  return lines.join('\n');
}

function mutateText(r: Rand, text: string): string {
  if (text.length === 0) return String.fromCharCode(r.int(0, 0xffff));
  const i = r.int(0, text.length - 1);
  switch (r.int(0, 5)) {
    case 0:
      return text.slice(0, i);
    case 1:
      return text.slice(0, i) + String.fromCharCode(r.int(0, 0x7f)) + text.slice(i + 1);
    case 2:
      return (
        text.slice(0, i) + r.pick(['[', ']', '"', '=', '\n', '#', '\\', '\u0000', '\uFEFF']) + text.slice(i)
      );
    case 3:
      return `${text}\n${text}`; // every key and section twice
    case 4:
      return text.replace(/= .*/, `= ${r.pick(TOML_VALUES)}`);
    default:
      return `\uFEFF${text}`;
  }
}

function randomEnv(r: Rand): Record<string, string> {
  const env: Record<string, string> = {};
  for (let n = r.int(0, 4); n > 0; n--) {
    const section = r.pick(SECTIONS);
    const key = r() < 0.9 ? r.pick(section.keys) : r.pick(NASTY_KEYS);
    const value = r.pick(TOML_VALUES).replace(/^"|"$/g, '');
    env[`TAPGATE_${section.name.toUpperCase()}_${key.toUpperCase()}`] = r() < 0.2 ? ` ${value}\u0000` : value;
  }
  return env;
}

/** Runs a load; returns 'ok' or the ConfigError, and fails the test on any other outcome. */
function attempt(what: string, load: () => unknown): 'ok' | ConfigError {
  try {
    load();
    return 'ok';
  } catch (e) {
    assert.ok(e instanceof ConfigError, `${what}: threw ${String((e as Error)?.stack ?? e)}`);
    assert.ok(e.key.length > 0, `${what}: ConfigError without a key: ${e.message}`);
    assert.equal(e.message, `${e.file ?? 'environment'}: ${e.key}: ${e.problem}`);
    return e;
  }
}

describe('config loader fuzzing', () => {
  const dir = scratch('config-fuzz');
  after(() => dir.dispose());

  it(`answers ${CASES} random and mutated files and environments with a config or a ConfigError`, () => {
    console.log(`# config fuzzer seed ${SEED} (reproduce: TAPGATE_FUZZ_SEED=${SEED})`);
    const r = fuzzRandom(SEED);
    const file = join(dir.dir, 'nymi_agent.toml');
    const nbe = join(dir.dir, 'nbe.toml');
    const protoKeys = Object.getOwnPropertyNames(Object.prototype).length;
    let loaded = 0;
    const byFile = { file: 0, environment: 0 };
    let previous = randomToml(r);
    for (let i = 0; i < CASES; i++) {
      const text = r() < 0.5 ? randomToml(r) : mutateText(r, previous);
      previous = text;
      writeFileSync(file, text);
      const env = r() < 0.5 ? randomEnv(r) : {};
      const res = attempt(`case ${i}`, () => loadAgentConfig({ path: file, env }));
      if (res === 'ok') loaded++;
      else if (res.file === undefined) byFile.environment++;
      else {
        byFile.file++;
        assert.equal(res.file, file);
      }
      // The endpoint's nbe.toml goes through the same kind of loader.
      writeFileSync(
        nbe,
        mutateText(r, 'agent_url = "ws://127.0.0.1:9120/socket/websocket"\nterminal_id = "T-1"\n'),
      );
      attempt(`nbe case ${i}`, () => loadEndpointConfig({ path: nbe, env: {} }));
    }
    assert.equal(Object.getOwnPropertyNames(Object.prototype).length, protoKeys, 'Object.prototype changed');
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
    console.log(
      `# ${CASES} agent configs: ${loaded} loaded, ${byFile.file} ConfigErrors in the file, ${byFile.environment} in the environment; ${CASES} nbe.toml`,
    );
    assert.ok(byFile.file > CASES / 4 && byFile.environment > 0, 'the fuzzer reached too few errors');
  });
});
