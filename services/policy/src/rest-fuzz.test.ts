import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { resetLogDestination, setLogDestination } from '@tapgate/telemetry';
import {
  PROTOTYPE_KEYS,
  fuzzRandom,
  fuzzSeed,
  randomJson,
  startNats,
  type Rand,
  type TestServer,
} from '@tapgate/testing';
import { openApiDocument } from './admin/openapi';
import { startPolicy, startUserStatusDouble, type PolicyHarness } from './testing/policy-harness';

/**
 * Seeded fuzzing of the policy REST API: random and schema-shaped JSON bodies (prototype-pollution keys,
 * huge numbers, deep nesting, wrong types, raw non-JSON) against every POST and PUT route of the OpenAPI
 * document, as the administrator. Every answer is a documented 2xx/4xx; never a 5xx (the one exception is
 * documented: login and bootstrap answer 503 `unavailable` while [ldap] / bootstrap_admin_file are unset, as here).
 * Reproduce with TAPGATE_FUZZ_SEED=<seed>.
 */
const SEED = fuzzSeed(0x4e57);
const REQUESTS = 2000;

const NASTY_KEYS = PROTOTYPE_KEYS;
const STRINGS = [
  '',
  'T-1',
  'default',
  'alice',
  'tgadmin\u0000',
  '\u202e',
  'x'.repeat(3000),
  '<script>',
  '../../etc',
];
const PATH_VALUES = [
  'T-FZ',
  'default',
  'band-AAAAAAAAAAAAAAAA',
  '__proto__',
  'constructor',
  '..%2f..%2f',
  '%00',
  'a'.repeat(300),
  'x%20y',
];

const randomJsonText = (r: Rand): string => randomJson(r, () => r.pick(STRINGS));

interface Route {
  method: string;
  path: string;
  /** Top-level property names of the JSON body, from the OpenAPI request schema. */
  props: string[];
}

/** Sign-in routes whose method is not configured here answer 503 `unavailable` (docs/api.md). */
const UNCONFIGURED_SIGN_IN = new Set(['/v1/auth/login', '/v1/auth/bootstrap']);

async function routes(): Promise<Route[]> {
  const out: Route[] = [];
  const paths = (await openApiDocument()).paths as unknown as Record<string, Record<string, unknown>>;
  for (const [path, ops] of Object.entries(paths)) {
    for (const [method, op] of Object.entries(ops)) {
      if (method !== 'post' && method !== 'put' && method !== 'patch') continue;
      const schema = (
        op as { requestBody?: { content?: Record<string, { schema?: { properties?: object } }> } }
      ).requestBody?.content?.['application/json']?.schema;
      out.push({ method: method.toUpperCase(), path, props: Object.keys(schema?.properties ?? {}) });
    }
  }
  return out;
}

/** A body shaped like the route's schema (its property names) with hostile values, or just hostile. */
function body(r: Rand, route: Route): string {
  const roll = r();
  if (roll < 0.5 && route.props.length > 0) {
    const members = route.props
      .filter(() => r() < 0.7)
      .map((p) => `${JSON.stringify(p)}:${randomJsonText(r)}`);
    if (r() < 0.3) members.push(`${JSON.stringify(r.pick(NASTY_KEYS))}:{"polluted":true}`);
    return `{${members.join(',')}}`;
  }
  if (roll < 0.8) return randomJsonText(r);
  if (roll < 0.87) return `${'['.repeat(5000)}${']'.repeat(5000)}`;
  if (roll < 0.94) return randomJsonText(r).slice(0, -1) || '{';
  return r.pick(['not json', '\u0000', '{"a":1}{"b":2}', "{'a':1}", '']);
}

describe('policy REST API fuzzing', () => {
  let nats: TestServer;
  let policy: PolicyHarness;
  let userStatus: ReturnType<typeof startUserStatusDouble>;
  let log = '';

  before(async () => {
    nats = await startNats();
    userStatus = startUserStatusDouble(nats.url);
    await userStatus.ready();
    policy = await startPolicy(nats.url);
    setLogDestination({ write: (chunk: string) => void (log += chunk) }, 'error');
  });

  after(async () => {
    resetLogDestination();
    await policy?.close();
    await userStatus?.stop();
    await nats?.dispose();
  });

  it(`answers ${REQUESTS} hostile bodies on every POST and PUT route without a 5xx`, async () => {
    console.log(`# REST fuzzer seed ${SEED} (reproduce: TAPGATE_FUZZ_SEED=${SEED})`);
    const r = fuzzRandom(SEED);
    const all = await routes();
    assert.ok(all.length >= 10, `only ${all.length} routes found in the OpenAPI document`);
    const statuses = new Map<number, number>();
    const perRoute = new Map<string, number>();
    for (let i = 0; i < REQUESTS; i++) {
      const route = all[i % all.length];
      const path = route.path.replace(/\{[^}]+\}/g, () => r.pick(PATH_VALUES));
      const text = body(r, route);
      const res = await fetch(`${policy.url}${path}`, {
        method: route.method,
        headers: {
          authorization: `Bearer ${policy.token}`,
          'content-type':
            r() < 0.9 ? 'application/json' : r.pick(['text/plain', 'application/x-www-form-urlencoded']),
        },
        body: text,
      });
      const answer = await res.text();
      statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
      const what = `${route.method} ${path} ${text.slice(0, 200)} -> ${res.status} ${answer.slice(0, 300)}`;
      const documented503 =
        UNCONFIGURED_SIGN_IN.has(route.path) && res.status === 503 && /"unavailable"/.test(answer);
      assert.ok(res.status < 500 || documented503, what);
      if (res.status >= 400) assert.match(answer, /^\{"error":\{"code":"[a-z_]+","message":/, what);
      perRoute.set(`${route.method} ${route.path}`, (perRoute.get(`${route.method} ${route.path}`) ?? 0) + 1);
    }
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
    assert.doesNotMatch(log, /"level":50/, 'an error was logged');
    console.log(
      `# ${REQUESTS} requests over ${perRoute.size} routes; statuses ${JSON.stringify(Object.fromEntries([...statuses].sort((a, b) => a[0] - b[0])))}`,
    );
    // Still serving: a valid request works after the fuzz.
    const ok = await policy.api('GET', '/v1/policies');
    assert.equal(ok.status, 200);
  });
});
