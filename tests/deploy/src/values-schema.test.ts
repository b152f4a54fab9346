// values.yaml against values.schema.json with ajv, the way `helm install` validates them.
import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import Ajv, { type ErrorObject } from 'ajv';
import { getPath, isMap, listRepoFiles, mergeValues, readRepoFile, readYaml, type JsonMap } from './index';

const schema = JSON.parse(readRepoFile('charts/tapgate/values.schema.json')) as JsonMap;
const defaults = readYaml('charts/tapgate/values.yaml');
const validate = new Ajv({ allErrors: true, strict: true, allowUnionTypes: true }).compile(schema);

/** Validates the defaults with `override` merged over them, as `helm install -f` would. */
function check(override: unknown): ErrorObject[] {
  return validate(mergeValues(defaults, override)) ? [] : (validate.errors ?? []);
}

const describeErrors = (errors: ErrorObject[]): string =>
  errors.map((e) => `${e.instancePath || '/'} ${e.keyword} ${e.message ?? ''}`).join('; ');

/** Asserts the override is rejected for the expected reason, not some other one. */
function rejects(override: unknown, instancePath: string, keyword: string): void {
  const errors = check(override);
  assert.ok(
    errors.some((e) => e.instancePath === instancePath && e.keyword === keyword),
    `expected ${keyword} at ${instancePath}, got: ${describeErrors(errors) || 'valid'}`,
  );
}

describe('values.schema.json', () => {
  it('accepts the chart defaults', () => {
    assert.deepEqual(check({}), [], describeErrors(check({})));
  });

  it('accepts the production example (wss, external NATS and Redis, AD, ingress, monitoring)', () => {
    const prod = readYaml('tests/deploy/fixtures/values-production.yaml');
    const errors = check(prod);
    assert.deepEqual(errors, [], describeErrors(errors));
  });

  it('accepts every values file the chart is rendered with (tests/deploy/fixtures)', () => {
    const fixtures = listRepoFiles('tests/deploy/fixtures').filter((f) => f.endsWith('.yaml'));
    assert.ok(fixtures.length >= 4, fixtures.join());
    for (const f of fixtures) {
      const errors = check(readYaml(f));
      assert.deepEqual(errors, [], `${f}: ${describeErrors(errors)}`);
    }
  });

  it('takes only standard OTEL_* variables in otel.extraEnv, never one the chart sets', () => {
    const otel = (name: string) => ({ otel: { extraEnv: [{ name, value: 'x' }] } });
    assert.deepEqual(check(otel('OTEL_TRACES_SAMPLER')), []);
    rejects(otel('TAPGATE_HTTP_PORT'), '/otel/extraEnv/0/name', 'pattern');
    rejects(otel('OTEL_SERVICE_NAME'), '/otel/extraEnv/0/name', 'not');
  });

  it('rejects ports out of range', () => {
    rejects({ wsGateway: { standard: { port: 70000 } } }, '/wsGateway/standard/port', 'maximum');
    rejects({ wsGateway: { service: { standardPort: 0 } } }, '/wsGateway/service/standardPort', 'minimum');
    // A non-root process cannot bind below 1024.
    rejects({ http: { port: 80 } }, '/http/port', 'minimum');
    rejects(
      { networkPolicy: { egress: { ldap: { ports: [636, 65536], to: [] } } } },
      '/networkPolicy/egress/ldap/ports/1',
      'maximum',
    );
  });

  it('takes Sentinels as host:port or [IPv6]:port, and a NATS replica count of 1-5', () => {
    const sentinels = (list: string[]) => ({ externalRedis: { sentinels: list } });
    assert.deepEqual(check(sentinels(['10.0.0.5:26379', 'redis-a.corp:26379', '[fd00::5]:26379'])), []);
    rejects(sentinels(['10.0.0.5']), '/externalRedis/sentinels/0', 'pattern');
    rejects(sentinels(['a:1,b:2']), '/externalRedis/sentinels/0', 'pattern');
    rejects(sentinels(['fd00::5:26379']), '/externalRedis/sentinels/0', 'pattern');
    rejects({ externalNats: { replicas: 6 } }, '/externalNats/replicas', 'maximum');
    rejects({ topologySpread: { zone: 'Never' } }, '/topologySpread/zone', 'enum');
  });

  it('rejects unknown keys, at the top and deep down', () => {
    rejects({ replicas: 3 }, '', 'additionalProperties');
    rejects({ wsGateway: { replicas: 3 } }, '/wsGateway', 'additionalProperties');
    rejects({ wsGateway: { webapi: { tls: 'x' } } }, '/wsGateway/webapi', 'additionalProperties');
    rejects({ config: { gateway: { maxFrameSize: 1024 } } }, '/config/gateway', 'additionalProperties');
  });

  it('rejects protocols other than ws and wss, and wss without a TLS Secret', () => {
    rejects({ wsGateway: { standard: { protocol: 'http' } } }, '/wsGateway/standard/protocol', 'enum');
    rejects({ wsGateway: { webapi: { protocol: 'WSS' } } }, '/wsGateway/webapi/protocol', 'enum');
    rejects(
      { wsGateway: { standard: { protocol: 'wss' } } },
      '/wsGateway/standard/tlsSecretName',
      'minLength',
    );
    rejects({ wsGateway: { webapi: { protocol: 'wss' } } }, '/wsGateway/webapi/tlsSecretName', 'minLength');
    // A disabled WebAPI interface needs no certificate.
    assert.deepEqual(check({ wsGateway: { webapi: { enabled: false, protocol: 'wss' } } }), []);
  });

  it('rejects other values the services would refuse', () => {
    rejects({ securityContext: { runAsUser: 0 } }, '/securityContext/runAsUser', 'minimum');
    rejects({ config: { logLevel: 'verbose' } }, '/config/logLevel', 'enum');
    rejects({ config: { gateway: { maxFrameBytes: 100 } } }, '/config/gateway/maxFrameBytes', 'minimum');
    rejects(
      { config: { gateway: { trustedProxies: ['proxy.example.com'] } } },
      '/config/gateway/trustedProxies/0',
      'pattern',
    );
    for (const origin of [
      'mes.example.com',
      'https://mes.example.com/app',
      'https://a.example,https://b.example',
    ]) {
      rejects({ wsGateway: { allowedOrigins: [origin] } }, '/wsGateway/allowedOrigins/0', 'pattern');
    }
    rejects({ externalNats: { servers: ['http://nats:4222'] } }, '/externalNats/servers/0', 'pattern');
    rejects({ externalRedis: { url: 'localhost:6379' } }, '/externalRedis/url', 'pattern');
    rejects({ ldap: { url: 'dc1.corp.example.com' } }, '/ldap/url', 'pattern');
    rejects({ wsGateway: { service: { type: 'Ingress' } } }, '/wsGateway/service/type', 'enum');
    rejects(
      { wsGateway: { autoscaling: { targetCPUUtilizationPercentage: 0 } } },
      '/wsGateway/autoscaling/targetCPUUtilizationPercentage',
      'minimum',
    );
    rejects({ userStatus: { directory: 'samba' } }, '/userStatus/directory', 'enum');
    rejects({ presence: { replicaCount: 'two' } }, '/presence/replicaCount', 'type');
    rejects({ policy: { extraEnv: [{ value: 'x' }] } }, '/policy/extraEnv/0', 'required');
  });

  it('leaves subchart values and Helm globals open, and everything else closed', () => {
    assert.deepEqual(
      check({ global: { imageRegistry: 'x' }, nats: { container: { image: { tag: 'x' } } } }),
      [],
    );
    const open: string[] = [];
    const walk = (node: unknown, at: string): void => {
      if (!isMap(node)) return;
      if (isMap(node.properties) && node.additionalProperties !== false) open.push(at);
      for (const [key, child] of Object.entries(node)) {
        if (isMap(child) || Array.isArray(child)) walk(child, `${at}/${key}`);
      }
    };
    walk(schema, '');
    // Open on purpose: the subcharts' own values, Kubernetes objects passed through (volumes and mounts
    // only need a name here) and if/then conditions, which constrain rather than declare.
    const expected = [
      '/properties/nats',
      '/properties/redis',
      '/properties/redis/properties/sentinel',
      '/definitions/volume',
      '/definitions/volumeMount',
    ];
    assert.deepEqual(open.filter((p) => !/\/(if|then)$/.test(p)).sort(), expected.sort());
  });

  it('declares every default in values.yaml', () => {
    // With additionalProperties false everywhere but the subcharts, a default the schema does not know is an error.
    const undeclared = (getPath(schema, ['required']) as string[]).filter(
      (k) => getPath(defaults, [k]) === undefined,
    );
    assert.deepEqual(undeclared, []);
  });
});
