import assert from 'node:assert/strict';
import { request } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { resetLogDestination, setLogDestination } from '@tapgate/telemetry';
import { startNats, type TestServer } from '@tapgate/testing';
import { startPolicy, type PolicyHarness } from '../testing/policy-harness';

/** Sends the path exactly as written (fetch would resolve "..", an attacker's client does not). */
function rawGet(base: string, path: string): Promise<{ status: number; body: string }> {
  const url = new URL(base);
  return new Promise((resolve, reject) => {
    const req = request({ host: url.hostname, port: url.port, path, method: 'GET' }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }),
      );
    });
    req.on('error', reject);
    req.end();
  });
}

describe('console files: only the console files are served', () => {
  let nats: TestServer;
  let policy: PolicyHarness;
  let log = '';

  before(async () => {
    nats = await startNats();
    policy = await startPolicy(nats.url);
    setLogDestination({ write: (chunk: string) => void (log += chunk) });
  });

  after(async () => {
    resetLogDestination();
    await policy?.close();
    await nats?.dispose();
  });

  it('answers 404 without a stack trace or install path for every other name', async () => {
    const names = [
      '__proto__',
      'constructor',
      'toString',
      'hasOwnProperty',
      'valueOf',
      'isPrototypeOf',
      'propertyIsEnumerable',
      'toLocaleString',
      '__defineGetter__',
      '__lookupSetter__',
      '..%2fpackage.json',
      '..%2f..%2fpackage.json',
      '%2e%2e%2fpackage.json',
      '..%5cpackage.json',
      '%2fetc%2fpasswd',
      'app.js%00.html',
      'index.html%2f',
      'app.js',
      'app.js.map',
      'INDEX.HTML',
      'nope',
      'assets',
      'assets%2f..%2f..%2fpackage.json',
      'assets/__proto__',
      'assets/constructor',
      'assets/..%2findex.html',
      'assets/nope.js',
      'assets/%2e%2e%2f%2e%2e%2fpackage.json',
    ];
    for (const name of names) {
      const r = await rawGet(policy.url, `/console/${name}`);
      assert.equal(r.status, 404, `/console/${name} answered ${r.status}: ${r.body}`);
      assert.deepEqual(JSON.parse(r.body), { error: { code: 'not_found', message: 'no such file' } });
    }
    for (const path of ['/console/../package.json', '/console/%2e%2e/package.json', '/console/a/../../x']) {
      const r = await rawGet(policy.url, path);
      assert.equal(r.status, 404, `${path} answered ${r.status}: ${r.body}`);
    }
    // The built console: index.html and the hashed assets it names (tools/console, built by npm run build).
    const index = await rawGet(policy.url, '/console/');
    const assets = [...index.body.matchAll(/\/console\/(assets\/[\w.-]+)/g)].map((m) => m[1]);
    assert.ok(assets.some((a) => a.endsWith('.js')) && assets.some((a) => a.endsWith('.css')), index.body);
    for (const file of ['', 'index.html', ...assets]) {
      assert.equal((await rawGet(policy.url, `/console/${file}`)).status, 200, file);
    }
    assert.doesNotMatch(log, /"level":50|ENOENT|\bat \w|\/console\/|__dirname|dist\//);
    console.log(
      `# ${names.length + 3} non-console paths answered 404; log lines written meanwhile: ${log.split('\n').length - 1}`,
    );
  });
});
