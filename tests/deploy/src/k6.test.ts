// k6/: scripts k6 can load (its own modules and relative files only), and frame helpers that speak the
// protocol exactly as libs/contracts defines it.
import { strict as assert } from 'node:assert';
import { existsSync } from 'node:fs';
import { dirname, join, normalize } from 'node:path';
import { pathToFileURL } from 'node:url';
import { before, describe, it } from 'node:test';
import { parse, type Node } from 'acorn';
import { decodeClientFrame, encodeServerFrame, type ClientMessage } from '@tapgate/contracts';
import { listRepoFiles, readRepoFile, repoRoot } from './index';

const K6_MODULES = new Set([
  'k6',
  'k6/ws',
  'k6/experimental/websockets',
  'k6/metrics',
  'k6/crypto',
  'k6/encoding',
  'k6/execution',
  'k6/http',
  'k6/experimental/webcrypto',
  'k6/data',
  'k6/timers',
]);
/** Node globals k6 does not have: a script using them fails at init. */
const NODE_ONLY = new Set([
  'require',
  'process',
  'Buffer',
  '__dirname',
  '__filename',
  'module',
  'exports',
  'global',
]);

const scripts = listRepoFiles('k6').filter((f) => f.endsWith('.js'));
const entryScripts = scripts.filter((f) => dirname(f) === 'k6');

type AnyNode = Node & Record<string, unknown>;
const isNode = (v: unknown): v is AnyNode =>
  typeof v === 'object' && v !== null && typeof (v as Node).type === 'string';

function walk(
  node: AnyNode,
  visit: (n: AnyNode, parent: AnyNode | undefined) => void,
  parent?: AnyNode,
): void {
  visit(node, parent);
  for (const value of Object.values(node)) {
    for (const child of Array.isArray(value) ? value : [value]) if (isNode(child)) walk(child, visit, node);
  }
}

const program = (file: string): AnyNode =>
  parse(readRepoFile(file), {
    ecmaVersion: 'latest',
    sourceType: 'module',
    locations: true,
  }) as unknown as AnyNode;

describe('k6 scripts', () => {
  it('are the two scenarios and their libraries', () => {
    assert.deepEqual(entryScripts, ['k6/connection-soak.js', 'k6/tap-latency.js']);
    assert.ok(scripts.includes('k6/lib/protocol.js'));
  });

  it('import only k6 modules and relative files that exist', () => {
    for (const file of scripts) {
      const sources: string[] = [];
      walk(program(file), (n) => {
        if (
          (n.type === 'ImportDeclaration' ||
            n.type === 'ExportNamedDeclaration' ||
            n.type === 'ExportAllDeclaration') &&
          n.source
        ) {
          sources.push(String((n.source as AnyNode).value));
        }
        if (n.type === 'ImportExpression') assert.fail(`${file}: dynamic import()`);
      });
      for (const src of sources) {
        if (src.startsWith('./') || src.startsWith('../')) {
          const target = normalize(join(dirname(file), src));
          assert.ok(
            target.startsWith('k6/') && existsSync(join(repoRoot, target)),
            `${file}: ${src} not found`,
          );
        } else {
          assert.ok(K6_MODULES.has(src), `${file}: imports ${src}, which k6 does not provide`);
        }
      }
    }
  });

  it('use no Node-only globals (require only for k6/experimental/webcrypto, which k6 keeps as a global)', () => {
    for (const file of scripts) {
      walk(program(file), (n, parent) => {
        if (n.type !== 'Identifier' || !NODE_ONLY.has(String(n.name))) return;
        // `typeof require` and require('k6/experimental/webcrypto'): the WebCrypto fallback of k6 < 1.0.
        const k6Require =
          n.name === 'require' &&
          parent !== undefined &&
          ((parent.type === 'UnaryExpression' && parent.operator === 'typeof') ||
            (parent.type === 'CallExpression' &&
              parent.callee === n &&
              (parent.arguments as AnyNode[]).length === 1 &&
              (parent.arguments as AnyNode[])[0].value === 'k6/experimental/webcrypto'));
        if (k6Require) return;
        const isPropertyName =
          parent !== undefined &&
          ((parent.type === 'MemberExpression' && parent.property === n && !parent.computed) ||
            (parent.type === 'Property' && parent.key === n));
        assert.ok(
          isPropertyName,
          `${file}:${(n.loc as { start: { line: number } }).start.line}: ${String(n.name)}`,
        );
      });
    }
  });

  it('use no object spread or rest, which k6 v0.50 cannot compile (issue 13 §5)', () => {
    for (const file of scripts) {
      walk(program(file), (n, parent) => {
        const inObject =
          (n.type === 'SpreadElement' && parent?.type === 'ObjectExpression') ||
          (n.type === 'RestElement' && parent?.type === 'ObjectPattern');
        assert.ok(
          !inObject,
          `${file}:${(n.loc as { start: { line: number } }).start.line}: object ${n.type}`,
        );
      });
    }
  });

  it('never compare readyState strictly (an object in k6 v0.50; k6-v050.test.ts runs the terminals so)', () => {
    for (const file of scripts) assert.doesNotMatch(readRepoFile(file), /readyState\s*!?==[^=]/, file);
  });

  it('each scenario exports options with thresholds and a default function', () => {
    for (const file of entryScripts) {
      let options: AnyNode | undefined;
      let defaultFunction = false;
      for (const n of program(file).body as AnyNode[]) {
        if (
          n.type === 'ExportNamedDeclaration' &&
          isNode(n.declaration) &&
          n.declaration.type === 'VariableDeclaration'
        ) {
          for (const d of n.declaration.declarations as AnyNode[]) {
            if ((d.id as AnyNode).name === 'options') options = d.init as AnyNode;
          }
        }
        if (n.type === 'ExportDefaultDeclaration') {
          defaultFunction = /Function/.test(String((n.declaration as AnyNode).type));
        }
      }
      assert.ok(options && options.type === 'ObjectExpression', `${file}: export const options = {...}`);
      assert.ok(defaultFunction, `${file}: export default function`);
      const keys = (options.properties as AnyNode[]).map((p) => String((p.key as AnyNode).name));
      assert.ok(
        keys.includes('scenarios') && keys.includes('thresholds'),
        `${file}: options has ${keys.join()}`,
      );
    }
  });

  it('hold tap latency to p(99) < 10 ms', () => {
    assert.match(readRepoFile('k6/tap-latency.js'), /tapgate_tap_to_nea_ms: \['p\(99\)<10'\]/);
  });

  it('sign taps in the terminal with WebCrypto (k6-signing.test.ts checks the proofs)', () => {
    assert.match(readRepoFile('k6/lib/protocol.js'), /export async function signTap\([\s\S]*subtle\.sign\(/);
    assert.match(readRepoFile('k6/lib/terminal.js'), /await signTap\(/);
  });

  it('enroll in setup() when given an admin token', () => {
    for (const file of entryScripts) {
      assert.match(readRepoFile(file), /export async function setup\(\) \{\s+return setupTerminals\(/, file);
      assert.match(
        readRepoFile(file),
        /new Terminal\(i, settings, data\.credentials, data\.bandKeys, data\.appCredential\)/,
        file,
      );
    }
  });
});

interface ProtocolModule {
  ENDPOINT_PATH: string;
  encodeFrame(type: string, data?: unknown, ref?: string): string;
  decodeFrame(text: string): { type: string; ref?: string; data: unknown } | null;
  endpointHello(terminalId: string, credential?: string): string;
  neaHello(terminalId: string, credential?: string): string;
  pingFrame(ref?: string): string;
  challengeRequestFrame(ref: string): string;
  advertsFrame(bandId: string, rssi: number, seenAt: string): string;
  tapFrame(tap: { tapId: string; kind?: string; bandId: string; at: string; proof?: unknown }): string;
  signTap(request: unknown): Promise<unknown>;
  terminalIdFor(prefix: string, index: number): string;
  bandIdFor(prefix: string, index: number): string;
}

interface SettingsModule {
  parseDuration(name: string, text: string): number;
  readSettings(
    env: Record<string, string | undefined>,
    defaults: { endpoints: number; rate: number; duration: string },
  ): Record<string, unknown> & { vus: number; durationMs: number };
}

const importK6 = async <T>(rel: string): Promise<T> =>
  (await import(pathToFileURL(join(repoRoot, rel)).href)) as T;

describe('k6/lib/protocol.js against libs/contracts', () => {
  let p: ProtocolModule;
  before(async () => {
    p = await importK6<ProtocolModule>('k6/lib/protocol.js');
  });

  const accepted = (frame: string): ClientMessage => {
    const result = decodeClientFrame(frame);
    assert.ok(result.ok, `${frame} rejected: ${JSON.stringify(result)}`);
    return result.message;
  };

  it('writes hello, ping and tap frames the gateway accepts', () => {
    assert.equal(p.ENDPOINT_PATH, '/socket/websocket');
    const id = p.terminalIdFor('k6', 1999);
    assert.deepEqual(accepted(p.endpointHello(id)).data, {
      role: 'endpoint',
      terminalId: id,
      software: { name: 'k6', version: '1' },
    });
    assert.equal(
      (accepted(p.endpointHello(id, 'secret-1')).data as { credential: string }).credential,
      'secret-1',
    );
    assert.deepEqual(accepted(p.neaHello(id)).data, {
      role: 'nea',
      terminalId: id,
      app: { name: 'k6', version: '1' },
    });
    assert.equal(
      (accepted(p.neaHello(id, 'app-secret')).data as { credential: string }).credential,
      'app-secret',
    );
    const ping = accepted(p.pingFrame('hb1'));
    assert.equal(ping.type, 'ping');
    assert.equal(ping.ref, 'hb1');
    const at = new Date().toISOString();
    const tap = accepted(p.tapFrame({ tapId: `${id}-0`, bandId: p.bandIdFor('k6', 1999), at }));
    assert.deepEqual(tap, {
      type: 'tap',
      ref: undefined,
      data: { tapId: `${id}-0`, kind: 'nfc', bandId: 'k6-b1999', at },
    });
  });

  it('carries a proof in the contracts shape once signTap makes one', async () => {
    assert.equal(await p.signTap({ challenge: 'c', terminalId: 't', bandId: 'b', timestamp: 1 }), undefined);
    const proof = {
      challenge: 'A'.repeat(22),
      timestamp: Date.now(),
      terminalId: 'k6-t1',
      signature: 'B'.repeat(86),
    };
    const tap = accepted(p.tapFrame({ tapId: 'x', bandId: 'k6-b1', at: new Date().toISOString(), proof }));
    assert.deepEqual((tap.data as { proof: unknown }).proof, proof);
  });

  it('asks for challenges and relays adverts as the contracts define them', () => {
    const request = accepted(p.challengeRequestFrame('c3'));
    assert.deepEqual([request.type, request.ref], ['challenge.request', 'c3']);
    const seenAt = new Date().toISOString();
    assert.deepEqual(accepted(p.advertsFrame('k6-b3', -60, seenAt)).data, {
      adverts: [{ bandId: 'k6-b3', rssi: -60, state: 'authenticated', seenAt }],
    });
  });

  it('reads server frames and refuses garbage without throwing', () => {
    const event = encodeServerFrame('pong', undefined, 'hb7');
    assert.deepEqual(p.decodeFrame(event), { type: 'pong', ref: 'hb7', data: undefined });
    for (const bad of ['', 'nope', '[]', 'null', '{"v":2,"type":"pong"}', '{"v":1}']) {
      assert.equal(p.decodeFrame(bad), null, bad);
    }
  });

  it('refuses ids the protocol cannot carry', () => {
    assert.throws(() => p.terminalIdFor('bad prefix', 1), /1-64 of/);
    assert.throws(() => p.terminalIdFor('x'.repeat(70), 1), /1-64 of/);
  });
});

describe('k6/lib/settings.js', () => {
  let s: SettingsModule;
  const defaults = { endpoints: 2000, rate: 500, duration: '2m' };
  before(async () => {
    s = await importK6<SettingsModule>('k6/lib/settings.js');
  });

  it('reads TAPGATE_URL, ENDPOINTS, RATE and DURATION, with defaults', () => {
    const d = s.readSettings({}, defaults);
    assert.equal(d.url, 'ws://127.0.0.1:9120');
    assert.equal(d.endpoints, 2000);
    assert.equal(d.rate, 500);
    assert.equal(d.durationMs, 120_000);
    assert.equal(d.vus, 40);
    const e = s.readSettings(
      {
        TAPGATE_URL: 'wss://gw.example.com:9120/',
        ENDPOINTS: '120',
        RATE: '7.5',
        DURATION: '1h30m',
        TERMINALS_PER_VU: '50',
      },
      defaults,
    );
    assert.equal(e.url, 'wss://gw.example.com:9120');
    assert.equal(e.neaUrl, 'wss://gw.example.com:9120');
    assert.deepEqual([e.endpoints, e.rate, e.durationMs, e.vus], [120, 7.5, 5_400_000, 3]);
    assert.equal(s.parseDuration('X', '250ms'), 250);
    assert.equal(d.adminToken, undefined);
    assert.equal(d.policyUrl, 'http://127.0.0.1:8080');
    assert.equal(d.userPrefix, 'k6user');
  });

  it('refuses bad values, naming the variable', () => {
    const bad: [Record<string, string>, RegExp][] = [
      [{ ENDPOINTS: '0' }, /ENDPOINTS must be a positive integer/],
      [{ ENDPOINTS: '1.5' }, /ENDPOINTS/],
      [{ RATE: 'fast' }, /RATE must be a positive number/],
      [{ DURATION: '10x' }, /DURATION must be a duration/],
      [{ DURATION: '0s' }, /DURATION must be longer than 0/],
      [{ TAPGATE_URL: 'http://127.0.0.1:9120' }, /TAPGATE_URL must be a ws:\/\/ or wss:\/\/ URL/],
      [{ TERMINAL_PREFIX: 'a b' }, /TERMINAL_PREFIX/],
      [{ TAPGATE_POLICY_URL: 'ws://policy:8080' }, /TAPGATE_POLICY_URL must be an http/],
      [{ USER_PREFIX: 'a-very-long-user-prefix' }, /USER_PREFIX \+ index must be 1-20/],
      [{ TAPGATE_ADMIN_TOKEN: 't', CREDENTIALS_FILE: 'c.json' }, /not both/],
    ];
    for (const [env, message] of bad) {
      assert.throws(() => s.readSettings(env, defaults), message, JSON.stringify(env));
    }
  });
});
