import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatProfileSummary, groupOf, summarizeProfile, type CpuProfile } from './profile';

const ROOT = 'file:///work/tapgate';

/** A tiny profile: root -> idle, program, gc, a gateway function calling ws, zod and crypto verify. */
const FIXTURE: CpuProfile = {
  nodes: [
    { id: 1, callFrame: { functionName: '(root)', url: '', lineNumber: -1 }, children: [2, 3, 4, 5] },
    { id: 2, callFrame: { functionName: '(idle)', url: '', lineNumber: -1 } },
    { id: 3, callFrame: { functionName: '(program)', url: '', lineNumber: -1 } },
    { id: 4, callFrame: { functionName: '(garbage collector)', url: '', lineNumber: -1 } },
    {
      id: 5,
      callFrame: {
        functionName: 'onTap',
        url: `${ROOT}/services/ws-gateway/dist/gateway.js`,
        lineNumber: 41,
      },
      children: [6, 7, 8],
    },
    {
      id: 6,
      callFrame: { functionName: 'sendFrame', url: `${ROOT}/node_modules/ws/lib/sender.js`, lineNumber: 9 },
    },
    {
      id: 7,
      callFrame: { functionName: 'parse', url: `${ROOT}/node_modules/zod/v3/types.js`, lineNumber: 99 },
    },
    { id: 8, callFrame: { functionName: 'verify', url: 'node:internal/crypto/sig', lineNumber: 200 } },
  ],
  // 10 samples from t=1000 us; each is charged the time until the next sample, the last until endTime.
  startTime: 1000,
  endTime: 11000,
  samples: [2, 2, 2, 2, 5, 8, 8, 6, 7, 4],
  timeDeltas: [0, 1000, 1000, 1000, 1000, 1000, 1000, 1000, 1000, 1000],
};

describe('summarizeProfile', () => {
  it('charges each sample the time until the next one and leaves idle out of the busy time', () => {
    const s = summarizeProfile(FIXTURE);
    assert.equal(s.wallMs, 10);
    assert.equal(s.busyMs, 6); // 10 ms minus 4 idle samples of 1 ms (the last runs to endTime: 1 ms)
    assert.deepEqual(
      s.groups.map((g) => [g.name, g.selfMs, g.share]),
      [
        ['crypto', 2, 0.333],
        ['ours services/ws-gateway/gateway.js', 1, 0.167],
        ['ws', 1, 0.167],
        ['zod/ajv', 1, 0.167],
        ['gc', 1, 0.167],
      ],
    );
    assert.equal(s.top[0].name, 'verify (node:internal/crypto/sig:201) [crypto]');
    assert.equal(s.top[0].selfMs, 2);
    assert.ok(
      s.top.some(
        (f) => f.name === 'onTap (services/ws-gateway/gateway.js:42) [ours services/ws-gateway/gateway.js]',
      ),
    );
    assert.ok(s.top.some((f) => f.name === 'sendFrame (ws/lib/sender.js:10) [ws]'));
    assert.ok(!s.top.some((f) => f.name.includes('(idle)')));
  });

  it('limits the top list and falls back to hit counts without samples', () => {
    const withHits: CpuProfile = {
      nodes: FIXTURE.nodes.map((n) => ({ ...n, hitCount: n.id === 5 ? 3 : n.id === 2 ? 1 : 0 })),
      startTime: 0,
      endTime: 4000,
    };
    const s = summarizeProfile(withHits, { top: 1 });
    assert.equal(s.busyMs, 3);
    assert.equal(s.top.length, 1);
    assert.equal(s.top[0].share, 1);
  });

  it('charges a native frame to its nearest scripted caller and names the callers up to a package', () => {
    const frame = (functionName: string, url: string) => ({ functionName, url, lineNumber: 0 });
    const s = summarizeProfile({
      nodes: [
        { id: 1, callFrame: frame('(root)', ''), children: [2] },
        { id: 2, callFrame: frame('sendFrame', `${ROOT}/node_modules/ws/lib/sender.js`), children: [3] },
        { id: 3, callFrame: frame('writeGeneric', 'node:internal/stream_base_commons'), children: [4] },
        { id: 4, callFrame: frame('writev', '') },
      ],
      startTime: 0,
      endTime: 2000,
      samples: [4, 2],
      timeDeltas: [0, 1000],
    });
    assert.deepEqual(
      s.groups.map((g) => [g.name, g.selfMs]),
      [
        ['node internals', 1],
        ['ws', 1],
      ],
    );
    assert.equal(
      s.top[0].name,
      'writev (native) <- writeGeneric (node:internal/stream_base_commons:1) <- sendFrame (ws/lib/sender.js:1) [node internals]',
    );
  });

  it('formats groups on one line and one line per top function', () => {
    const lines = formatProfileSummary(summarizeProfile(FIXTURE, { top: 2 }));
    assert.equal(lines.length, 3);
    assert.match(lines[0], /by package: crypto 33\.3%, /);
    assert.match(lines[1], /33\.3%\s+verify/);
  });
});

describe('groupOf', () => {
  it('names node internals, packages (scoped too), pino, our files and native frames', () => {
    const g = (url: string, functionName = 'f') => groupOf({ url, functionName });
    assert.equal(g('node:internal/streams/writable'), 'node internals');
    assert.equal(g('node:crypto'), 'crypto');
    assert.equal(g(`${ROOT}/node_modules/pino/lib/tools.js`), 'pino');
    assert.equal(g(`${ROOT}/node_modules/sonic-boom/index.js`), 'pino');
    assert.equal(g(`${ROOT}/node_modules/nats/lib/nats-base-client/protocol.js`), 'nats');
    assert.equal(g(`${ROOT}/node_modules/ajv/dist/core.js`), 'zod/ajv');
    assert.equal(g(`${ROOT}/node_modules/@nestjs/core/router.js`), '@nestjs/core');
    assert.equal(g(`${ROOT}/node_modules/a/node_modules/ioredis/built/Redis.js`), 'ioredis');
    assert.equal(
      g(`${ROOT}/node_modules/@tapgate/contracts/dist/frames.js`),
      'ours @tapgate/contracts/frames.js',
    );
    assert.equal(g(`${ROOT}/libs/messaging/dist/kv-cache.js`), 'ours libs/messaging/kv-cache.js');
    assert.equal(g('', 'writev'), 'native (no script)');
    assert.equal(g('', '(program)'), 'program (V8, native)');
    assert.equal(g('/somewhere/else.js'), 'other');
  });
});
