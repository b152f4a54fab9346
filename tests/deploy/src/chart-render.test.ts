// charts/tapgate rendered with Helm's template engine (helm-render), for every values file we ship or
// document: each object passes the Kubernetes schemas, the objects agree with each other, with
// docker/Dockerfile, and with the services (the rendered nymi_agent.toml plus each container's
// environment and mounted files pass the service's own config loader).
import { strict as assert } from 'node:assert';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { AGENT_SECTIONS, loadAgentConfig, type AgentSectionName } from '@tapgate/config';
import { makeTestPki, type TestPki } from '@tapgate/testing';
import { effective, stages } from './dockerfile';
import {
  render,
  rendererMissing,
  renderError,
  schemaProblems,
  type Rendered,
  type RenderedObject,
  type RenderOptions,
} from './helm-render';
import { isMap, listRepoFiles, readRepoFile, repoRoot, type JsonMap } from './index';

const missing = rendererMissing();
const skip = missing ? `helm-render cannot be built here: ${missing}` : false;

/** The trial install of docs/operations.md: chart defaults plus a users file instead of Active Directory. */
const TRIAL = ['userStatus.directory=file', 'userStatus.usersConfigMap.name=tapgate-users'];

const CASES: Record<string, RenderOptions> = {
  'defaults (trial)': { set: TRIAL },
  production: { valuesFiles: ['tests/deploy/fixtures/values-production.yaml'] },
  'wss, external NATS/Redis/AD': { valuesFiles: ['tests/deploy/fixtures/values-wss-external.yaml'] },
  ingress: { valuesFiles: ['tests/deploy/fixtures/values-ingress.yaml'] },
  monitoring: { valuesFiles: ['tests/deploy/fixtures/values-monitoring.yaml'] },
  'kube 1.29 (exec preStop)': { set: TRIAL, kubeVersion: 'v1.29.4' },
  'many hosts: in-chart NATS R3 and Redis Sentinel': {
    valuesFiles: ['tests/deploy/fixtures/values-ha-in-chart.yaml'],
  },
  'many hosts: external NATS cluster and Sentinels': {
    valuesFiles: ['tests/deploy/fixtures/values-ha-external.yaml'],
  },
};

type Container = JsonMap & {
  name: string;
  image: string;
  command?: string[];
  args?: string[];
  ports: { name: string; containerPort: number }[];
  env: { name: string; value?: string; valueFrom?: unknown }[];
  volumeMounts: { name: string; mountPath: string; subPath?: string }[];
  startupProbe: { httpGet: { path: string; port: string } };
  livenessProbe: { httpGet: { path: string; port: string } };
  readinessProbe: { httpGet: { path: string; port: string } };
};
type Volume = JsonMap & {
  name: string;
  configMap?: { name: string; items?: { key: string; path: string }[] };
  secret?: { secretName: string; items?: { key: string; path: string }[] };
  emptyDir?: JsonMap;
};

const byKind = (r: Rendered, kind: string) => r.objects.filter((o) => o.kind === kind);
const spec = (o: RenderedObject) => o.spec as JsonMap;
const podSpec = (d: RenderedObject) =>
  (spec(d).template as JsonMap).spec as JsonMap & { containers: Container[]; volumes: Volume[] };
const podLabels = (d: RenderedObject) =>
  ((spec(d).template as JsonMap).metadata as JsonMap).labels as Record<string, string>;
const matches = (selector: Record<string, string>, labels: Record<string, string>) =>
  Object.entries(selector).every(([k, v]) => labels[k] === v);

/** Cross-object problems Kubernetes would not report at apply time but that break the install. */
function crossProblems(r: Rendered): string[] {
  const problems: string[] = [];
  const deployments = byKind(r, 'Deployment');
  const names = new Set<string>();
  for (const o of r.objects) {
    const key = `${o.kind}/${o.metadata.name}`;
    if (names.has(key)) problems.push(`duplicate ${key}`);
    names.add(key);
    if (
      ['Service', 'Deployment', 'NetworkPolicy', 'PodDisruptionBudget', 'HorizontalPodAutoscaler'].includes(
        o.kind,
      )
    ) {
      if (!/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/.test(o.metadata.name)) {
        problems.push(`${key}: not a DNS label`);
      }
    }
  }
  for (const svc of byKind(r, 'Service')) {
    const sel = spec(svc).selector as Record<string, string>;
    const targets = deployments.filter((d) => matches(sel, podLabels(d)));
    if (targets.length !== 1) {
      problems.push(`Service ${svc.metadata.name} selects ${targets.length} Deployments`);
    }
    for (const p of spec(svc).ports as { name: string; targetPort: string | number }[]) {
      const ok = targets.some((d) =>
        podSpec(d).containers.some((c) =>
          c.ports.some((cp) => cp.name === p.targetPort || cp.containerPort === p.targetPort),
        ),
      );
      if (!ok) problems.push(`Service ${svc.metadata.name}: targetPort ${p.targetPort} is no container port`);
    }
  }
  for (const d of deployments) {
    const sel = (spec(d).selector as JsonMap).matchLabels as Record<string, string>;
    if (!matches(sel, podLabels(d))) {
      problems.push(`Deployment ${d.metadata.name}: selector does not match its pods`);
    }
    const vols = new Set(podSpec(d).volumes.map((v) => v.name));
    for (const c of podSpec(d).containers) {
      for (const probe of [c.startupProbe, c.livenessProbe, c.readinessProbe]) {
        if (!c.ports.some((p) => p.name === probe.httpGet.port)) {
          problems.push(`${d.metadata.name}: probe port ${probe.httpGet.port}`);
        }
      }
      for (const m of c.volumeMounts) {
        if (!vols.has(m.name)) problems.push(`${d.metadata.name}: mount of unknown volume ${m.name}`);
      }
      const envNames = c.env.map((e) => e.name);
      if (new Set(envNames).size !== envNames.length) {
        problems.push(`${d.metadata.name}: an env var is set twice`);
      }
    }
  }
  for (const kind of ['PodDisruptionBudget', 'NetworkPolicy']) {
    for (const o of byKind(r, kind)) {
      const sel = ((kind === 'PodDisruptionBudget' ? spec(o).selector : spec(o).podSelector) as JsonMap)
        .matchLabels as Record<string, string>;
      if (deployments.filter((d) => matches(sel, podLabels(d))).length !== 1) {
        problems.push(`${kind} ${o.metadata.name} selects no single Deployment`);
      }
    }
  }
  for (const hpa of byKind(r, 'HorizontalPodAutoscaler')) {
    const ref = spec(hpa).scaleTargetRef as { kind: string; name: string };
    if (!deployments.some((d) => d.metadata.name === ref.name)) {
      problems.push(`HPA ${hpa.metadata.name}: no ${ref.kind} ${ref.name}`);
    }
  }
  for (const ing of byKind(r, 'Ingress')) {
    for (const rule of spec(ing).rules as {
      http: { paths: { backend: { service: { name: string; port: { name: string } } } }[] };
    }[]) {
      for (const p of rule.http.paths) {
        const svc = byKind(r, 'Service').find((s) => s.metadata.name === p.backend.service.name);
        if (
          !svc ||
          !(spec(svc).ports as { name: string }[]).some((sp) => sp.name === p.backend.service.port.name)
        ) {
          problems.push(
            `Ingress ${ing.metadata.name}: backend ${p.backend.service.name}:${p.backend.service.port.name}`,
          );
        }
      }
    }
  }
  return problems;
}

const dockerStages = stages(readRepoFile('docker/Dockerfile'));
/** The config sections each service builds, read from its own main.ts/bootstrap (never a copy here). */
function serviceSections(component: string): AgentSectionName[] {
  const sources: Record<string, [string, RegExp]> = {
    'ws-gateway': ['services/ws-gateway/src/main.ts', /sections: \[([^\]]+)\]/],
    presence: ['services/presence/src/main.ts', /sections: \[([^\]]+)\]/],
    'user-status': ['services/user-status/src/config-sections.ts', /CONFIG_SECTIONS = \[([^\]]+)\]/],
    policy: ['services/policy/src/policy-settings.ts', /POLICY_CONFIG_SECTIONS = \[([^\]]+)\]/],
  };
  const [file, pattern] = sources[component];
  const list = pattern.exec(readRepoFile(file))?.[1];
  assert.ok(list, `${file}: no section list`);
  return [...list.matchAll(/'(\w+)'/g)].map((m) => m[1] as AgentSectionName);
}

/** Routes a service's Nest controllers declare with @Get, as absolute paths. */
function servedPaths(component: string): string[] {
  const dir = `services/${component}/src`;
  const files = readdirSync(join(__dirname, '../../..', dir), { recursive: true, encoding: 'utf8' }).filter(
    (f) => f.endsWith('controller.ts'),
  );
  return files.flatMap((f) =>
    [...readRepoFile(`${dir}/${f}`).matchAll(/@Get\('([^']*)'\)/g)].map((m) => `/${m[1]}`),
  );
}

/** Sources of a folder (relative to the repository) with the given extension, concatenated. */
const sourcesOf = (dir: string, ext: RegExp): string =>
  listRepoFiles(dir)
    .filter((f) => ext.test(f) && !/\.test\.|\.map$|\.d\.ts$/.test(f))
    .map((f) => readRepoFile(f))
    .join('\n');
let otelSources: string | undefined;
/**
 * Variables that are not TAPGATE_<SECTION>_<KEY> config keys, with who reads them: the config file's path
 * (libs/config), the logger's level (libs/telemetry), OTEL_* (libs/telemetry or the OpenTelemetry SDK it
 * uses), Node's own options, and the pod fields that OTEL_RESOURCE_ATTRIBUTES expands.
 */
const OTHER_ENV_READERS: [RegExp, (name: string, env: { name: string; value?: string }[]) => boolean][] = [
  [/^TAPGATE_CONFIG$/, (n) => sourcesOf('libs/config/src', /\.ts$/).includes(`env.${n}`)],
  [/^TAPGATE_LOG_LEVEL$/, (n) => sourcesOf('libs/telemetry/src', /\.ts$/).includes(`process.env.${n}`)],
  [
    /^OTEL_/,
    (n) => {
      otelSources ??= [
        sourcesOf('libs/telemetry/src', /\.ts$/),
        ...['resources', 'core', 'sdk-node', 'sdk-trace-base', 'exporter-trace-otlp-http']
          .filter((pkg) => existsSync(join(repoRoot, 'node_modules/@opentelemetry', pkg, 'build/src')))
          .map((pkg) => sourcesOf(`node_modules/@opentelemetry/${pkg}/build/src`, /\.js$/)),
      ].join('\n');
      return otelSources.includes(n);
    },
  ],
  [/^NODE_OPTIONS$/, () => true],
  [/^POD_(NAME|NAMESPACE)$/, (n, env) => env.some((e) => e.value?.includes(`$(${n})`))],
];
const sectionList = Object.values(AGENT_SECTIONS) as unknown as {
  name: string;
  fields: Record<string, unknown>;
}[];
const isConfigEnv = (name: string) =>
  sectionList.some((s) => {
    const prefix = `TAPGATE_${s.name.toUpperCase()}_`;
    return name.startsWith(prefix) && Object.hasOwn(s.fields, name.slice(prefix.length).toLowerCase());
  });

/**
 * Lays out one container's files as the kubelet would (ConfigMap and Secret items under their mount
 * paths, inside `root`), with stand-in contents of the right kind, and returns its environment with every
 * path moved under `root`.
 */
function materialize(
  r: Rendered,
  d: RenderedObject,
  c: Container,
  root: string,
  pki: TestPki,
  crl: string,
): Record<string, string> {
  const content = (key: string, path: string): string => {
    if (key === 'nymi_agent.toml') {
      const cm = byKind(r, 'ConfigMap').find(
        (o) => isMap(o.data) && typeof o.data['nymi_agent.toml'] === 'string',
      )!;
      return (cm.data as Record<string, string>)['nymi_agent.toml'];
    }
    if (path.endsWith('tls.crt')) return pki.server.cert;
    if (path.endsWith('tls.key')) return pki.server.key;
    if (path.endsWith('ca.crt')) return pki.ca.cert;
    if (path.endsWith('ca.crl')) return crl;
    if (path.endsWith('users.yaml')) {
      return 'users:\n  - sAMAccountName: alice\n    displayName: "Alice"\n    state: active\n';
    }
    return 'a-stand-in-secret-value-of-forty-eight-characters'.slice(0, 48);
  };
  for (const m of c.volumeMounts) {
    const v = podSpec(d).volumes.find((x) => x.name === m.name)!;
    const items = v.configMap?.items ?? v.secret?.items;
    if (v.emptyDir) {
      mkdirSync(join(root, m.mountPath), { recursive: true });
    } else if (m.subPath) {
      const key = items?.find((i) => i.path === m.subPath)?.key ?? m.subPath;
      mkdirSync(dirname(join(root, m.mountPath)), { recursive: true });
      writeFileSync(join(root, m.mountPath), content(key, m.mountPath));
    } else {
      assert.ok(
        items,
        `${d.metadata.name}: volume ${v.name} mounts a whole ${v.secret ? 'Secret' : 'ConfigMap'} without items`,
      );
      for (const i of items) {
        mkdirSync(join(root, m.mountPath), { recursive: true });
        writeFileSync(join(root, m.mountPath, i.path), content(i.key, `${m.mountPath}/${i.path}`), {
          mode: 0o600,
        });
      }
    }
  }
  const env: Record<string, string> = {};
  for (const e of c.env) {
    if (e.value === undefined) continue;
    env[e.name] = e.value.startsWith('/') ? join(root, e.value) : e.value;
  }
  return env;
}

describe('charts/tapgate rendered by Helm’s template engine', { skip }, () => {
  let pki: TestPki;
  let crl: string;
  const work = mkdtempSync(join(tmpdir(), 'tapgate-chart-'));
  before(async () => {
    pki = await makeTestPki();
    crl = readFileSync(await pki.crlFile(), 'utf8');
  });
  after(() => {
    pki?.dispose();
    rmSync(work, { recursive: true, force: true });
  });

  for (const [name, opts] of Object.entries(CASES)) {
    describe(name, () => {
      let r: Rendered;
      before(() => {
        r = render(opts);
      });

      it('renders objects that pass the Kubernetes schemas', async () => {
        assert.ok(byKind(r, 'Deployment').length >= 4, 'four Deployments');
        const problems = (await Promise.all(r.objects.map((o) => schemaProblems(o)))).flat();
        assert.deepEqual(problems, []);
      });

      it('whose Services, probes, mounts, PDBs, NetworkPolicies, HPAs and Ingresses agree', () => {
        assert.deepEqual(crossProblems(r), []);
      });

      it('runs each component from its own docker/Dockerfile target, on the ports and probe paths it serves', () => {
        for (const d of byKind(r, 'Deployment')) {
          const c = podSpec(d).containers[0];
          const component = c.name;
          assert.ok(
            dockerStages.some((s) => s.name === component),
            `no Dockerfile target ${component}`,
          );
          assert.match(
            c.image,
            new RegExp(`/${component}:[\\w.-]+$`),
            `${component}: image names its target`,
          );
          // The chart keeps the image's CMD (no command/args override).
          assert.equal(c.command, undefined, component);
          assert.equal(c.args, undefined, component);
          assert.match(
            effective(dockerStages, component, 'CMD')!.args,
            new RegExp(`services/${component}/dist/main\\.js`),
          );
          const exposed = effective(dockerStages, component, 'EXPOSE')!.args.split(/\s+/).map(Number);
          const env = Object.fromEntries(c.env.map((e) => [e.name, e.value]));
          const served = servedPaths(component);
          for (const probe of [c.startupProbe, c.livenessProbe, c.readinessProbe]) {
            assert.ok(served.includes(probe.httpGet.path), `${component} serves no ${probe.httpGet.path}`);
          }
          for (const p of c.ports) {
            const envPort = {
              http: 'TAPGATE_HTTP_PORT',
              standard: 'TAPGATE_AGENT_PORT',
              webapi: 'TAPGATE_WEBAPI_PORT',
            }[p.name];
            assert.ok(envPort, `${component}: port ${p.name}`);
            assert.equal(Number(env[envPort]), p.containerPort, `${component}: ${p.name} port vs ${envPort}`);
            if (name.startsWith('defaults')) {
              assert.ok(exposed.includes(p.containerPort), `${component}: ${p.containerPort} not EXPOSEd`);
            }
          }
        }
      });

      it('sets only environment variables the services read', () => {
        for (const d of byKind(r, 'Deployment')) {
          const env = podSpec(d).containers[0].env;
          for (const e of env) {
            if (isConfigEnv(e.name)) continue;
            const reader = OTHER_ENV_READERS.find(([pattern]) => pattern.test(e.name));
            assert.ok(reader, `${d.metadata.name}: ${e.name} is no config key and nothing reads it`);
            assert.ok(reader[1](e.name, env), `${d.metadata.name}: ${e.name} is read by nothing here`);
          }
        }
      });

      it('gives each service a nymi_agent.toml, environment and mounted files its own config loader accepts', async () => {
        for (const d of byKind(r, 'Deployment')) {
          const c = podSpec(d).containers[0];
          const root = join(work, name.replace(/\W+/g, '-'), c.name);
          const env = materialize(r, d, c, root, pki, crl);
          assert.equal(env.TAPGATE_CONFIG, join(root, '/etc/tapgate/nymi_agent.toml'));
          const config = loadAgentConfig({ env, sections: serviceSections(c.name) }) as unknown as JsonMap;
          // Every file the environment names is one the pod mounts (the loader read it above).
          if (c.name === 'user-status') {
            const us = await import('@tapgate/user-status');
            await (us.createDirectory(config as never) as { close(): Promise<void> }).close?.();
          }
          if (c.name === 'policy') {
            const { policySettings } = (await import('@tapgate/policy/dist/policy-settings.js')) as {
              policySettings(c: unknown): unknown;
            };
            assert.ok(policySettings(config));
          }
        }
      });
    });
  }
});

describe('chart defects found by rendering (issue 13)', { skip }, () => {
  const names = (r: Rendered, kind: string) => byKind(r, kind).map((o) => o.metadata.name);

  it('1/3: refuses to render a user-status without a directory, or LDAP without baseDn/bindDn', () => {
    assert.match(renderError({})!, /userStatus\.directory=ldap needs ldap\.url/);
    const ldap = ['ldap.url=ldaps://dc1.corp.example.com', 'ldap.bindPasswordSecret.name=ldap'];
    assert.match(renderError({ set: ldap })!, /ldap\.url needs ldap\.baseDn and ldap\.bindDn/);
    assert.match(
      renderError({ set: [...ldap, 'ldap.baseDn=DC=corp'] })!,
      /ldap\.url needs ldap\.baseDn and ldap\.bindDn/,
    );
    assert.equal(renderError({ set: [...ldap, 'ldap.baseDn=DC=corp', 'ldap.bindDn=CN=svc'] }), undefined);
    assert.equal(renderError({ set: ['userStatus.enabled=false'] }), undefined);
  });

  it('2: long release names give distinct component names of at most 63 characters', () => {
    for (const length of [37, 45, 53]) {
      const release = 'r'.repeat(length);
      const r = render({ set: TRIAL, release });
      for (const kind of ['Service', 'Deployment', 'PodDisruptionBudget', 'NetworkPolicy']) {
        const list = names(r, kind);
        assert.equal(
          new Set(list).size,
          list.length,
          `${kind} names collide for a ${length}-character release`,
        );
        for (const n of list) assert.ok(n.length <= 63, `${kind} ${n} (${n.length})`);
      }
      assert.ok(names(r, 'Service').some((n) => n.endsWith('-ws-gateway-metrics')));
      assert.ok(names(r, 'Deployment').some((n) => n.endsWith('-presence')));
      assert.ok(names(r, 'Deployment').some((n) => n.endsWith('-policy')));
      assert.deepEqual(crossProblems(r), []);
    }
  });

  it('3: preStopSleepSeconds 0 renders no preStop hook (a zero sleep is rejected by Kubernetes)', () => {
    const r = render({ set: [...TRIAL, 'presence.preStopSleepSeconds=0'] });
    const presence = byKind(r, 'Deployment').find((d) => d.metadata.name === 'tapgate-presence')!;
    assert.equal(podSpec(presence).containers[0].lifecycle, undefined);
    const policy = byKind(r, 'Deployment').find((d) => d.metadata.name === 'tapgate-policy')!;
    assert.deepEqual(podSpec(policy).containers[0].lifecycle, { preStop: { sleep: { seconds: 5 } } });
  });

  it('3: the http/webapi port clash check applies only while webapi is enabled', () => {
    assert.match(renderError({ set: [...TRIAL, 'wsGateway.webapi.port=8080'] })!, /http\.port must differ/);
    assert.equal(
      renderError({ set: [...TRIAL, 'wsGateway.webapi.port=8080', 'wsGateway.webapi.enabled=false'] }),
      undefined,
    );
  });

  it('3: NetworkPolicy egress selects the subcharts’ pods by their nameOverride', () => {
    const r = render({ set: [...TRIAL, 'nats.nameOverride=msg', 'redis.nameOverride=cache'] });
    const np = byKind(r, 'NetworkPolicy').find((o) => o.metadata.name === 'tapgate-presence')!;
    const selected = (
      spec(np).egress as { to?: { podSelector?: { matchLabels: Record<string, string> } }[] }[]
    )
      .flatMap((e) => e.to ?? [])
      .map((t) => t.podSelector?.matchLabels['app.kubernetes.io/name'])
      .filter(Boolean);
    assert.deepEqual(selected.sort(), ['cache', 'msg']);
  });

  it('3: the Redis password key is Bitnami’s redis-password unless an existing Secret is named', () => {
    assert.match(
      renderError({ set: [...TRIAL, 'redis.auth.existingSecretPasswordKey=pw'] })!,
      /existingSecretPasswordKey applies only with redis\.auth\.existingSecret/,
    );
    const r = render({
      set: [...TRIAL, 'redis.auth.existingSecret=mine', 'redis.auth.existingSecretPasswordKey=pw'],
    });
    const presence = byKind(r, 'Deployment').find((d) => d.metadata.name === 'tapgate-presence')!;
    const vol = podSpec(presence).volumes.find((v) => v.name === 'redis-password')!;
    assert.deepEqual(vol.secret!.items, [{ key: 'pw', path: 'password' }]);
    assert.equal(vol.secret!.secretName, 'mine');
    const dflt = render({ set: TRIAL });
    const v2 = podSpec(
      byKind(dflt, 'Deployment').find((d) => d.metadata.name === 'tapgate-presence')!,
    ).volumes.find((v) => v.name === 'redis-password')!;
    assert.deepEqual(
      [v2.secret!.secretName, v2.secret!.items],
      ['tapgate-redis', [{ key: 'redis-password', path: 'password' }]],
    );
  });

  it('3: the admin Secret docs/operations.md names is the one the chart creates for release "tapgate"', () => {
    const r = render({ set: TRIAL });
    assert.deepEqual(names(r, 'Secret'), ['tapgate-policy-admin']);
    const docs = readRepoFile('docs/operations.md');
    assert.ok(docs.includes('`tapgate-policy-admin`'));
    assert.ok(!docs.includes('<release>-tapgate-policy-admin'));
    assert.match(r.notes, /get secret tapgate-policy-admin /);
  });

  it('4: like helm, refuses to render while the nats and redis charts are not in charts/ (helm dependency build)', () => {
    assert.match(
      renderError({ set: TRIAL, skipMissingDependencies: false })!,
      /found in Chart\.yaml, but missing in charts\/ directory: nats/,
    );
    // With both external, no dependency is needed.
    const external = [
      'nats.enabled=false',
      'externalNats.servers={nats://n:4222}',
      'redis.enabled=false',
      'externalRedis.url=redis://r:6379/0',
    ];
    assert.equal(renderError({ set: [...TRIAL, ...external], skipMissingDependencies: false }), undefined);
    for (const block of readRepoFile('docs/operations.md')
      .split('```')
      .filter((b, i) => i % 2 === 1 && /helm (upgrade --)?install/.test(b))) {
      assert.match(
        block,
        /helm dependency build/,
        `an install command without helm dependency build:\n${block}`,
      );
    }
  });

  it('the schema keeps the loader’s maxima for the gateway limits', () => {
    const schema = JSON.parse(readRepoFile('charts/tapgate/values.schema.json')) as JsonMap;
    const gw = ((((schema.properties as JsonMap).config as JsonMap).properties as JsonMap).gateway as JsonMap)
      .properties as Record<string, { maximum?: number }>;
    const fields = sectionList.find((s) => s.name === 'gateway')!.fields as Record<
      string,
      { fromToml(v: unknown, b: string): unknown }
    >;
    for (const [camel, rule] of Object.entries(gw)) {
      if (rule.maximum === undefined) continue;
      const key = camel.replace(/[A-Z]/g, (ch) => `_${ch.toLowerCase()}`);
      assert.doesNotThrow(() => fields[key].fromToml(rule.maximum, '/'), key);
    }
    // The limits the loader caps are capped at the same value (the schema stops what would exit 2).
    for (const camel of ['rateLimitPerSecond', 'rateLimitBurst', 'floodCloseAfter', 'maxFrameBytes']) {
      const key = camel.replace(/[A-Z]/g, (ch) => `_${ch.toLowerCase()}`);
      assert.throws(
        () => fields[key].fromToml(gw[camel].maximum! + 1, '/'),
        `${key}: the loader accepts more than the schema`,
      );
    }
  });
});

describe('the chart on many hosts', { skip }, () => {
  // smol-toml is an ES module; this file is CommonJS.
  let parseToml: (source: string) => Record<string, unknown>;
  before(async () => {
    ({ parse: parseToml } = await import('smol-toml'));
  });
  const deployment = (r: Rendered, component: string) =>
    byKind(r, 'Deployment').find((d) => podSpec(d).containers[0].name === component)!;
  const env = (r: Rendered, component: string) =>
    Object.fromEntries(podSpec(deployment(r, component)).containers[0].env.map((e) => [e.name, e.value]));
  const toml = (r: Rendered) => {
    const cm = byKind(r, 'ConfigMap').find((o) => isMap(o.data) && 'nymi_agent.toml' in o.data)!;
    return parseToml((cm.data as Record<string, string>)['nymi_agent.toml']) as Record<string, JsonMap>;
  };
  const fixture = (name: string): RenderOptions => ({ valuesFiles: [`tests/deploy/fixtures/${name}.yaml`] });
  const COMPONENTS = ['ws-gateway', 'presence', 'user-status', 'policy'];
  type Spread = {
    topologyKey: string;
    whenUnsatisfiable: string;
    labelSelector: { matchLabels: Record<string, string> };
  };

  /** Replicas a Deployment runs at least: its own count, or its HPA's minimum. */
  const minReplicas = (r: Rendered, d: RenderedObject): number => {
    const hpa = byKind(r, 'HorizontalPodAutoscaler').find(
      (h) => (spec(h).scaleTargetRef as { name: string }).name === d.metadata.name,
    );
    return hpa ? (spec(hpa).minReplicas as number) : (spec(d).replicas as number);
  };

  for (const [name, opts, replicas, hostname, zone] of [
    ['defaults (trial)', { set: TRIAL }, 2, 'ScheduleAnyway', 'ScheduleAnyway'],
    ['production', fixture('values-production'), 3, 'DoNotSchedule', 'ScheduleAnyway'],
    [
      'external NATS cluster and Sentinels',
      fixture('values-ha-external'),
      3,
      'DoNotSchedule',
      'DoNotSchedule',
    ],
  ] as const) {
    it(`${name}: every service runs ${replicas}+ replicas spread over nodes and zones, each with a PDB`, () => {
      const r = render(opts);
      for (const component of COMPONENTS) {
        const d = deployment(r, component);
        assert.ok(minReplicas(r, d) >= replicas, `${component}: ${minReplicas(r, d)} replicas`);
        const spread = podSpec(d).topologySpreadConstraints as Spread[];
        assert.deepEqual(
          spread.map((t) => [t.topologyKey, t.whenUnsatisfiable]),
          [
            ['kubernetes.io/hostname', hostname],
            ['topology.kubernetes.io/zone', zone],
          ],
          component,
        );
        for (const t of spread) {
          assert.deepEqual(t.labelSelector.matchLabels, (spec(d).selector as JsonMap).matchLabels, component);
        }
        const pdb = byKind(r, 'PodDisruptionBudget').filter((p) =>
          matches((spec(p).selector as JsonMap).matchLabels as Record<string, string>, podLabels(d)),
        );
        assert.equal(pdb.length, 1, `${component}: PDBs`);
        assert.equal(spec(pdb[0]).maxUnavailable, 1, component);
      }
    });
  }

  it('an empty topologySpread key drops that constraint; a component’s own constraints replace the chart’s', () => {
    const own = join(mkdtempSync(join(tmpdir(), 'tapgate-spread-')), 'values.yaml');
    writeFileSync(
      own,
      [
        'topologySpread: { zone: "" }',
        'policy:',
        '  topologySpreadConstraints:',
        '    - { maxSkew: 2, topologyKey: rack, whenUnsatisfiable: DoNotSchedule,',
        '        labelSelector: { matchLabels: { app.kubernetes.io/component: policy } } }',
      ].join('\n'),
    );
    const r = render({ set: TRIAL, valuesFiles: [own] });
    rmSync(dirname(own), { recursive: true, force: true });
    const keys = (c: string) =>
      (podSpec(deployment(r, c)).topologySpreadConstraints as Spread[]).map((t) => t.topologyKey);
    assert.deepEqual(keys('presence'), ['kubernetes.io/hostname']);
    assert.deepEqual(keys('policy'), ['rack']);
    const none = render({ set: [...TRIAL, 'topologySpread.zone=', 'topologySpread.hostname='] });
    assert.equal(podSpec(deployment(none, 'presence')).topologySpreadConstraints, undefined);
  });

  it('[nats] replicas follows the in-chart NATS cluster, and clients get every server’s per-pod address', () => {
    const r = render(fixture('values-ha-in-chart'));
    assert.equal(toml(r).nats.replicas, 3);
    for (const component of COMPONENTS) {
      assert.equal(
        env(r, component).TAPGATE_NATS_SERVERS,
        [0, 1, 2].map((i) => `nats://tapgate-nats-${i}.tapgate-nats-headless:4222`).join(','),
      );
    }
    // Five servers: five addresses, still R3 (a majority of 3 per stream, not of 5).
    const five = render({ set: [...TRIAL, 'nats.config.cluster.replicas=5'] });
    assert.equal(toml(five).nats.replicas, 3);
    assert.equal(env(five, 'policy').TAPGATE_NATS_SERVERS?.split(',').length, 5);
    // One server: R1 and the Service's address.
    const single = render({ set: [...TRIAL, 'nats.config.cluster.enabled=false'] });
    assert.equal(toml(single).nats.replicas, 1);
    assert.equal(env(single, 'policy').TAPGATE_NATS_SERVERS, 'nats://tapgate-nats:4222');
    assert.match(
      renderError({ set: [...TRIAL, 'nats.config.cluster.replicas=2'] })!,
      /nats\.config\.cluster\.replicas must be at least 3/,
    );
  });

  it('[nats] replicas for external NATS is externalNats.replicas; every listed server reaches the clients', () => {
    const r = render(fixture('values-ha-external'));
    assert.equal(toml(r).nats.replicas, 3);
    assert.equal(env(r, 'ws-gateway').TAPGATE_NATS_SERVERS?.split(',').length, 3);
    assert.equal(toml(render(fixture('values-wss-external'))).nats.replicas, 1);
  });

  it('in-chart Redis with Sentinel: [redis] sentinels name each Bitnami node’s Sentinel, master_name is masterSet', () => {
    const r = render(fixture('values-ha-in-chart'));
    for (const component of ['presence', 'user-status']) {
      const e = env(r, component);
      assert.equal(
        e.TAPGATE_REDIS_SENTINELS,
        [0, 1, 2].map((i) => `tapgate-redis-node-${i}.tapgate-redis-headless:26379`).join(','),
      );
      assert.equal(e.TAPGATE_REDIS_MASTER_NAME, 'tapgate');
      // Bitnami's Sentinel service has no -master Service; the url gives only scheme and db.
      assert.equal(e.TAPGATE_REDIS_URL, 'redis://tapgate-redis:6379/0');
      // The Sentinels take the Redis password (auth.sentinel): the same Secret key, a second file.
      const vol = podSpec(deployment(r, component)).volumes.find((v) => v.name === 'redis-password')!;
      assert.deepEqual(vol.secret!.items, [
        { key: 'redis-password', path: 'password' },
        { key: 'redis-password', path: 'sentinel-password' },
      ]);
      assert.equal(e.TAPGATE_REDIS_SENTINEL_PASSWORD_FILE, '/etc/tapgate/secrets/redis/sentinel-password');
      const np = byKind(r, 'NetworkPolicy').find((o) => o.metadata.name === `tapgate-${component}`)!;
      const ports = (spec(np).egress as { ports: { port: number }[] }[]).flatMap((x) =>
        x.ports.map((p) => p.port),
      );
      assert.ok(ports.includes(26379) && ports.includes(6379), `${component}: egress ${ports.join()}`);
    }
    for (const component of ['ws-gateway', 'policy']) {
      assert.equal(env(r, component).TAPGATE_REDIS_SENTINELS, undefined, component);
    }
    const noAuth = env(
      render({ ...fixture('values-ha-in-chart'), set: ['redis.auth.sentinel=false'] }),
      'presence',
    );
    assert.equal(noAuth.TAPGATE_REDIS_SENTINEL_PASSWORD_FILE, undefined);
    assert.equal(noAuth.TAPGATE_REDIS_PASSWORD_FILE, '/etc/tapgate/secrets/redis/password');
    assert.match(
      renderError({ set: [...TRIAL, 'redis.sentinel.enabled=true'] })!,
      /redis\.sentinel\.enabled needs redis\.architecture=replication/,
    );
    // Standalone stays as it was: no Sentinel settings at all.
    const standalone = env(render({ set: TRIAL }), 'presence');
    assert.equal(standalone.TAPGATE_REDIS_URL, 'redis://tapgate-redis-master:6379/0');
    assert.equal(standalone.TAPGATE_REDIS_SENTINELS, undefined);
    assert.equal(standalone.TAPGATE_REDIS_MASTER_NAME, undefined);
  });

  it('external Sentinels: listed as given, with their master name and their own password Secret', () => {
    const r = render(fixture('values-ha-external'));
    const e = env(r, 'user-status');
    assert.equal(e.TAPGATE_REDIS_SENTINELS, '10.40.0.5:26379,10.40.1.5:26379,10.40.2.5:26379');
    assert.equal(e.TAPGATE_REDIS_MASTER_NAME, 'tapgate-prod');
    assert.equal(e.TAPGATE_REDIS_SENTINEL_PASSWORD_FILE, '/etc/tapgate/secrets/redis-sentinel/password');
    const vol = podSpec(deployment(r, 'user-status')).volumes.find(
      (v) => v.name === 'redis-sentinel-password',
    )!;
    assert.equal(vol.secret!.secretName, 'tapgate-redis-sentinel');
    assert.match(
      renderError({ ...fixture('values-ha-external'), set: ['externalRedis.masterName='] })!,
      /externalRedis\.sentinels needs externalRedis\.masterName/,
    );
    assert.match(
      renderError({ ...fixture('values-ha-external'), set: ['externalRedis.sentinels={10.40.0.5}'] })!,
      /sentinels/,
    );
  });

  it('the install notes name the single points of failure left, and none once NATS is R3 and Redis has Sentinel', () => {
    assert.match(render({ set: TRIAL }).notes, /Redis: no Sentinel/);
    assert.doesNotMatch(render({ set: TRIAL }).notes, /NATS: JetStream/);
    assert.match(
      render(fixture('values-wss-external')).notes,
      /NATS: JetStream streams and buckets have 1 replica/,
    );
    for (const f of ['values-ha-in-chart', 'values-ha-external']) {
      assert.doesNotMatch(render(fixture(f)).notes, /Single points of failure/, f);
    }
  });

  it('the gateway drain reaches [gateway] drain_*_ms, and the grace period covers it', () => {
    const dflt = render({ set: TRIAL });
    const gw = deployment(dflt, 'ws-gateway');
    assert.deepEqual(
      [
        toml(dflt).gateway.drain_delay_ms,
        toml(dflt).gateway.drain_spread_ms,
        toml(dflt).gateway.drain_timeout_ms,
      ],
      [5_000, 10_000, 30_000],
    );
    // (5 + 10 + 30) s of drain + 10 s margin; the gateway waits for the load balancer itself: no preStop.
    assert.equal(podSpec(gw).terminationGracePeriodSeconds, 55);
    assert.equal(podSpec(gw).containers[0].lifecycle, undefined);
    const ha = render(fixture('values-ha-in-chart'));
    assert.equal(toml(ha).gateway.drain_timeout_ms, 60_000);
    assert.equal(podSpec(deployment(ha, 'ws-gateway')).terminationGracePeriodSeconds, 5 + 15 + 60 + 10);
    // A value set by hand is kept when long enough, refused when not.
    assert.equal(
      podSpec(deployment(render(fixture('values-ha-external')), 'ws-gateway')).terminationGracePeriodSeconds,
      90,
    );
    assert.match(
      renderError({ set: [...TRIAL, 'wsGateway.terminationGracePeriodSeconds=45'] })!,
      /wsGateway\.terminationGracePeriodSeconds=45 is too short for the drain: it needs at least 55/,
    );
    // A preStop sleep and the drain delay both wait for the load balancer: one of them only.
    assert.match(
      renderError({ set: [...TRIAL, 'wsGateway.preStopSleepSeconds=15'] })!,
      /set wsGateway\.preStopSleepSeconds=0 or wsGateway\.drain\.delayMs=0, not both/,
    );
    const sleep = render({
      set: [...TRIAL, 'wsGateway.preStopSleepSeconds=15', 'wsGateway.drain.delayMs=0'],
    });
    const sg = podSpec(deployment(sleep, 'ws-gateway'));
    assert.deepEqual(sg.containers[0].lifecycle, { preStop: { sleep: { seconds: 15 } } });
    assert.equal(sg.terminationGracePeriodSeconds, 15 + 40 + 10);
  });
});
