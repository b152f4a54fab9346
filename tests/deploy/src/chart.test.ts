// Static checks of charts/tapgate: Chart.yaml, the templates, and the config they hand to the services.
import { strict as assert } from 'node:assert';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { AGENT_SECTIONS } from '@tapgate/config';
import {
  definedNames,
  includedNames,
  missingValues,
  scanActions,
  valuesReads,
  type Action,
} from './helm-template';
import { chartDir, getPath, isMap, readRepoFile, readYaml } from './index';

const values = readYaml('charts/tapgate/values.yaml');
const schema = JSON.parse(readRepoFile('charts/tapgate/values.schema.json')) as Record<string, unknown>;
const templateFiles = readdirSync(join(chartDir, 'templates')).sort();
const templates = new Map(templateFiles.map((f) => [f, readRepoFile(`charts/tapgate/templates/${f}`)]));
const scans = new Map([...templates].map(([f, src]) => [f, scanActions(src)]));
const actionsOf = (f: string): Action[] => scans.get(f)!.actions;
const helpers = templates.get('_helpers.tpl')!;

/** component name -> values key, from the "tapgate.components" define. */
const components = new Map(
  [
    ...(/define "tapgate.components" -}}\n([\s\S]*?)\n\{\{- end/.exec(helpers)?.[1] ?? '').matchAll(
      /^([\w-]+): (\w+)$/gm,
    ),
  ].map((m) => [m[1], m[2]]),
);

describe('Chart.yaml', () => {
  const chart = readYaml('charts/tapgate/Chart.yaml');
  assert.ok(isMap(chart));

  it('is a v2 application chart with a semver version and an appVersion', () => {
    assert.equal(chart.apiVersion, 'v2');
    assert.equal(chart.name, 'tapgate');
    assert.equal(chart.type, 'application');
    assert.match(String(chart.version), /^\d+\.\d+\.\d+(-[\w.]+)?$/);
    assert.equal(typeof chart.appVersion, 'string');
  });

  it('depends on nats and redis, each gated by a boolean <name>.enabled that the schema declares', () => {
    const deps = chart.dependencies as Record<string, unknown>[];
    assert.deepEqual(deps.map((d) => d.name).sort(), ['nats', 'redis']);
    for (const dep of deps) {
      const name = String(dep.name);
      assert.equal(dep.condition, `${name}.enabled`, `${name}: condition`);
      assert.match(String(dep.repository), /^(https:\/\/|oci:\/\/)/, `${name}: repository`);
      assert.match(String(dep.version), /\d+\.\d+/, `${name}: version`);
      assert.equal(typeof getPath(values, [name, 'enabled']), 'boolean', `${name}.enabled in values.yaml`);
      assert.deepEqual(getPath(schema, ['properties', name, 'properties', 'enabled']), { type: 'boolean' });
    }
    const nats = deps.find((d) => d.name === 'nats')!;
    assert.equal(nats.repository, 'https://nats-io.github.io/k8s/helm/charts/');
    assert.equal(
      getPath(values, ['nats', 'config', 'jetstream', 'enabled']),
      true,
      'JetStream on by default',
    );
  });
});

describe('templates', () => {
  it('include only templates defined in _helpers.tpl, and every define is used', () => {
    const defined = definedNames(actionsOf('_helpers.tpl'));
    assert.ok(defined.length > 10);
    for (const file of templateFiles.filter((f) => f !== '_helpers.tpl')) {
      assert.deepEqual(definedNames(actionsOf(file)), [], `${file} defines templates outside _helpers.tpl`);
    }
    const used = new Set<string>();
    for (const file of templateFiles) {
      for (const inc of includedNames(actionsOf(file))) {
        assert.ok(defined.includes(inc.name), `${file}:${inc.line}: include "${inc.name}" has no define`);
        used.add(inc.name);
      }
    }
    assert.deepEqual(
      defined.filter((d) => !used.has(d)),
      [],
      'defines nothing includes',
    );
  });

  it('read only values that values.yaml defines', () => {
    assert.deepEqual([...components.values()], ['wsGateway', 'presence', 'userStatus', 'policy']);
    let reads = 0;
    for (const file of templateFiles) {
      const found = valuesReads(actionsOf(file), { values, componentKeys: [...components.values()] });
      reads += found.length;
      assert.deepEqual(missingValues(found, values), [], file);
    }
    assert.ok(reads > 150, `only ${reads} values reads found: is the reader still following the templates?`);
  });

  it('render every component with the pod hardening the platform requires', () => {
    const deployment = /define "tapgate.deployment"[\s\S]*?\n\{\{- end \}\}/.exec(helpers)?.[0] ?? '';
    for (const needle of [
      'runAsNonRoot: true',
      'readOnlyRootFilesystem: true',
      'allowPrivilegeEscalation: false',
      "drop: ['ALL']",
      'type: RuntimeDefault',
      'automountServiceAccountToken: false',
      'enableServiceLinks: false',
      'path: /healthz',
      'path: /readyz',
      'preStop:',
      'terminationGracePeriodSeconds:',
      'checksum/config:',
    ]) {
      assert.ok(deployment.includes(needle), `tapgate.deployment lacks ${needle}`);
    }
    for (const file of ['deployments.yaml', 'hpa.yaml', 'pdb.yaml', 'networkpolicy.yaml', 'services.yaml']) {
      assert.match(templates.get(file)!, /include "tapgate.components"/, `${file} covers every component`);
    }
    assert.match(templates.get('hpa.yaml')!, /autoscaling\/v2/);
    assert.match(templates.get('pdb.yaml')!, /policy\/v1/);
    assert.equal((templates.get('services.yaml')!.match(/sessionAffinity: None/g) ?? []).length, 1);
    assert.match(helpers, /define "tapgate.httpService"[\s\S]*?sessionAffinity: None/);
  });

  it('ship the Grafana dashboard as a ConfigMap labelled for the Grafana sidecar', () => {
    assert.match(templates.get('dashboards.yaml')!, /\.Files\.Get "dashboards\/tapgate\.json"/);
    assert.equal(getPath(values, ['dashboards', 'labels', 'grafana_dashboard']), '1');
  });
});

describe('service configuration the chart produces', () => {
  const sections = Object.values(AGENT_SECTIONS) as unknown as {
    name: string;
    fields: Record<string, { defaultValue(): unknown; fromToml(value: unknown, baseDir: string): unknown }>;
  }[];
  const section = (name: string) => sections.find((s) => s.name === name);

  it("defaults to the services' own settings, so an install without overrides behaves like the docs say", () => {
    const chartDefaults: [string, string, string[]][] = [
      ['agent', 'log_level', ['config', 'logLevel']],
      ['nes', 'nea_name', ['config', 'nes', 'neaName']],
      ['nats', 'request_timeout_ms', ['config', 'nats', 'requestTimeoutMs']],
      ['telemetry', 'metrics_interval_ms', ['config', 'telemetry', 'metricsIntervalMs']],
      ['gateway', 'max_frame_bytes', ['config', 'gateway', 'maxFrameBytes']],
      ['gateway', 'handshake_timeout_ms', ['config', 'gateway', 'handshakeTimeoutMs']],
      ['gateway', 'heartbeat_interval_ms', ['config', 'gateway', 'heartbeatIntervalMs']],
      ['gateway', 'rate_limit_per_second', ['config', 'gateway', 'rateLimitPerSecond']],
      ['gateway', 'rate_limit_burst', ['config', 'gateway', 'rateLimitBurst']],
      ['gateway', 'flood_close_after', ['config', 'gateway', 'floodCloseAfter']],
      ['gateway', 'tap_timeout_ms', ['config', 'gateway', 'tapTimeoutMs']],
      ['gateway', 'endpoint_mtls', ['config', 'gateway', 'endpointMtls']],
      ['gateway', 'trusted_proxies', ['config', 'gateway', 'trustedProxies']],
      ['gateway', 'allowed_origins', ['wsGateway', 'allowedOrigins']],
      ['gateway', 'drain_delay_ms', ['wsGateway', 'drain', 'delayMs']],
      ['gateway', 'drain_spread_ms', ['wsGateway', 'drain', 'spreadMs']],
      ['gateway', 'drain_timeout_ms', ['wsGateway', 'drain', 'timeoutMs']],
      ['redis', 'master_name', ['externalRedis', 'masterName']],
      ['redis', 'master_name', ['redis', 'sentinel', 'masterSet']],
      ['agent', 'port', ['wsGateway', 'standard', 'port']],
      ['webapi', 'port', ['wsGateway', 'webapi', 'port']],
      ['webapi', 'enabled', ['wsGateway', 'webapi', 'enabled']],
      ['http', 'port', ['http', 'port']],
    ];
    for (const [sec, key, path] of chartDefaults) {
      const field = section(sec)!.fields[key];
      assert.ok(field, `[${sec}] ${key} (${path.join('.')}) is no key of the services' config loader`);
      const chartValue = getPath(values, path);
      assert.deepEqual(
        field.fromToml(chartValue, '/'),
        field.defaultValue(),
        `${path.join('.')} vs [${sec}] ${key}`,
      );
    }
  });

  it('the production example appends TOML the loader accepts', async () => {
    // smol-toml is an ES module; this package compiles to CommonJS.
    const { parse: parseToml } = await import('smol-toml');
    const prod = readYaml('tests/deploy/fixtures/values-production.yaml');
    const extra = parseToml(String(getPath(prod, ['config', 'extraToml'])));
    for (const [sec, table] of Object.entries(extra)) {
      assert.ok(section(sec), `[${sec}]`);
      for (const [key, value] of Object.entries(table as Record<string, unknown>)) {
        assert.doesNotThrow(() => section(sec)!.fields[key].fromToml(value, '/'), `[${sec}] ${key}`);
      }
    }
  });
});
