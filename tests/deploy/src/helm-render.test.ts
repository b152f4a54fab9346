// helm-render's own behaviour where charts/tapgate alone cannot show it: subcharts under charts/ (scoped
// values, the subchart's defaults visible to the parent, globals, conditions) and Helm's values rules.
import { strict as assert } from 'node:assert';
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { render, rendererMissing, renderError } from './helm-render';
import { chartDir } from './index';

const skip = rendererMissing() ?? false;
const TRIAL = ['userStatus.directory=file', 'userStatus.usersConfigMap.name=tapgate-users'];

describe('helm-render', { skip }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'tapgate-helm-render-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  /** charts/tapgate with a stand-in nats subchart vendored, as `helm dependency build` would leave it. */
  const withNatsSubchart = (): string => {
    const chart = join(dir, 'tapgate');
    rmSync(chart, { recursive: true, force: true });
    cpSync(chartDir, chart, { recursive: true });
    const nats = join(chart, 'charts/nats');
    mkdirSync(join(nats, 'templates'), { recursive: true });
    writeFileSync(join(nats, 'Chart.yaml'), 'apiVersion: v2\nname: nats\nversion: 1.2.0\n');
    writeFileSync(
      join(nats, 'values.yaml'),
      'config:\n  cluster:\n    enabled: false\n    port: 6222\n  jetstream:\n    enabled: false\nglobal:\n  own: sub\n',
    );
    writeFileSync(
      join(nats, 'templates/cm.yaml'),
      [
        'apiVersion: v1',
        'kind: ConfigMap',
        'metadata:',
        '  name: {{ .Release.Name }}-{{ .Chart.Name }}-probe',
        'data:',
        '  jetstream: {{ .Values.config.jetstream.enabled | quote }}',
        '  clusterPort: {{ .Values.config.cluster.port | quote }}',
        '  replicas: {{ .Values.config.cluster.replicas | quote }}',
        '  globalFromParent: {{ .Values.global.fromParent | quote }}',
        '  globalOwn: {{ .Values.global.own | quote }}',
        '  base: {{ .Template.BasePath }}',
      ].join('\n') + '\n',
    );
    return chart;
  };

  it('renders a vendored subchart with the parent’s values over its defaults, and globals', () => {
    const chart = withNatsSubchart();
    const r = render({ chart, set: [...TRIAL, 'global.fromParent=yes'], skipMissingDependencies: true });
    const probe = r.objects.find((o) => o.metadata.name === 'tapgate-nats-probe');
    assert.ok(probe, 'the subchart’s template is rendered');
    assert.deepEqual(probe.data, {
      jetstream: 'true', // tapgate's values.yaml turns JetStream on over the subchart's default
      clusterPort: '6222', // the subchart's own default, kept
      replicas: '3', // from tapgate's values.yaml
      globalFromParent: 'yes',
      globalOwn: 'sub',
      base: 'tapgate/charts/nats/templates',
    });
    assert.equal(r.sources[r.objects.indexOf(probe)], 'tapgate/charts/nats/templates/cm.yaml');
  });

  it('leaves a subchart out when its condition is false', () => {
    const chart = withNatsSubchart();
    const external = ['nats.enabled=false', 'externalNats.servers={nats://n:4222}'];
    const r = render({ chart, set: [...TRIAL, ...external], skipMissingDependencies: true });
    assert.equal(
      r.objects.find((o) => o.metadata.name === 'tapgate-nats-probe'),
      undefined,
    );
  });

  it('deletes a default with null, replaces lists, and types --set scalars like helm', () => {
    const file = join(dir, 'null.yaml');
    writeFileSync(file, 'commonLabels:\n  team: floor\nwsGateway:\n  resources:\n    limits: null\n');
    const r = render({ valuesFiles: [file], set: [...TRIAL, 'wsGateway.replicaCount=3'] });
    const gw = r.objects.find((o) => o.kind === 'Deployment' && o.metadata.name === 'tapgate-ws-gateway')!;
    const c = (gw.spec as { template: { spec: { containers: { resources: unknown }[] } } }).template.spec
      .containers[0];
    assert.deepEqual(c.resources, { requests: { cpu: '500m', memory: '256Mi' } });
    assert.equal((gw.metadata.labels as Record<string, string>).team, 'floor');
  });

  it('checks the coalesced values against values.schema.json first, as helm does', () => {
    assert.match(
      renderError({ set: [...TRIAL, 'wsGateway.standard.port=70000', 'nope=1'] })!,
      /schema\(s\) in the following chart\(s\):\ntapgate:\n(- .*\n?)*- wsGateway\.standard\.port: Must be less than or equal to 65535/,
    );
    assert.match(renderError({ set: [...TRIAL, 'nope=1'] })!, /Additional property nope is not allowed/);
  });

  it('reports template errors with the template and the message', () => {
    assert.match(
      renderError({ set: ['wsGateway.ingress.enabled=true', ...TRIAL] })!,
      /wsGateway\.ingress\.host is required/,
    );
    assert.match(
      renderError({ kubeVersion: 'v1.24.0', set: TRIAL })!,
      /chart requires kubeVersion: >=1\.25\.0-0/,
    );
  });
});
