// charts/tapgate/dashboards/tapgate.json: valid, self-consistent, and reading only the platform's metrics.
import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { isMap, readRepoFile, type JsonMap } from './index';
import { exportedMetrics, promqlNames } from './promql';

/** The metrics the dashboard must show (each one a service exports: checked below). */
const METRICS = [
  'tapgate_tap_latency_bucket',
  'tapgate_taps_total',
  'tapgate_connections_open',
  'tapgate_userstatus_cache_total',
  'tapgate_ldap_latency_bucket',
];

const dashboard = JSON.parse(readRepoFile('charts/tapgate/dashboards/tapgate.json')) as JsonMap;
const allPanels = (panels: unknown): JsonMap[] =>
  (Array.isArray(panels) ? panels : []).filter(isMap).flatMap((p) => [p, ...allPanels(p.panels)]);
const panels = allPanels(dashboard.panels);
const queryPanels = panels.filter((p) => p.type !== 'row');
const targetsOf = (p: JsonMap): JsonMap[] => (Array.isArray(p.targets) ? p.targets.filter(isMap) : []);
const exprs = queryPanels.flatMap((p) => targetsOf(p).map((t) => String(t.expr)));
const panelTitled = (title: string): JsonMap => {
  const p = queryPanels.find((q) => q.title === title);
  assert.ok(p, `no panel "${title}"`);
  return p;
};

describe('promqlNames', () => {
  it('finds metric names and nothing else', () => {
    const names = promqlNames(
      'histogram_quantile(0.99, sum by (le) (rate(a_bucket{ns=~"$namespace",x="rate(b)"}[$__rate_interval]))) / ignoring(x) c_total offset 5m',
    );
    assert.deepEqual(names, { metrics: ['a_bucket', 'c_total'], unknownFunctions: [] });
    assert.deepEqual(promqlNames('rte(x[5m])').unknownFunctions, ['rte']);
  });
});

describe('Grafana dashboard', () => {
  it('is a dashboard with a stable uid, a Prometheus datasource variable and unique panel ids', () => {
    assert.equal(dashboard.uid, 'tapgate-overview');
    assert.equal(typeof dashboard.schemaVersion, 'number');
    const vars = (dashboard.templating as { list: JsonMap[] }).list;
    assert.ok(
      vars.some((v) => v.type === 'datasource' && v.query === 'prometheus' && v.name === 'datasource'),
    );
    const ids = panels.map((p) => p.id);
    assert.equal(new Set(ids).size, ids.length, 'duplicate panel ids');
    for (const p of panels) {
      const g = p.gridPos as { x: number; w: number; h: number };
      assert.ok(g.x >= 0 && g.w > 0 && g.x + g.w <= 24 && g.h > 0, `panel ${String(p.title)} gridPos`);
    }
  });

  it('queries only the platform metrics, with real PromQL functions, through the datasource variable', () => {
    assert.ok(exprs.length >= 10);
    const queries = [
      ...exprs,
      ...(dashboard.templating as { list: JsonMap[] }).list.map((v) =>
        typeof v.definition === 'string' ? v.definition : '',
      ),
    ];
    const exported = exportedMetrics();
    for (const expr of queries) {
      const names = promqlNames(expr);
      assert.deepEqual(names.unknownFunctions, [], expr);
      for (const m of names.metrics) assert.ok(exported.has(m), `${m} in ${expr} is exported by no service`);
    }
    for (const p of queryPanels) {
      for (const t of targetsOf(p)) {
        assert.deepEqual(t.datasource, { type: 'prometheus', uid: '${datasource}' }, String(p.title));
        assert.ok(t.refId, String(p.title));
      }
    }
    for (const metric of METRICS) {
      assert.ok(
        exprs.some((e) => promqlNames(e).metrics.includes(metric)),
        `no panel shows ${metric}`,
      );
    }
  });

  it('shows tap latency p50/p95/p99, taps by outcome, connections by kind, cache hit ratio and LDAP latency', () => {
    const quantiles = (title: string, metric: string): void => {
      const e = targetsOf(panelTitled(title)).map((t) => String(t.expr));
      for (const q of ['0.5', '0.95', '0.99']) {
        assert.ok(
          e.some(
            (x) => x.startsWith(`histogram_quantile(${q},`) && x.includes(metric) && /by \(le\)/.test(x),
          ),
          `${title}: p${q}`,
        );
      }
      assert.equal((panelTitled(title).fieldConfig as { defaults: { unit: string } }).defaults.unit, 'ms');
    };
    quantiles('Tap latency (tap -> NEA)', 'tapgate_tap_latency_bucket');
    quantiles('LDAP latency', 'tapgate_ldap_latency_bucket');
    assert.match(
      String(targetsOf(panelTitled('Taps/s by outcome'))[0].expr),
      /sum by \(outcome, reason\) \(rate\(tapgate_taps_total/,
    );
    assert.match(
      String(targetsOf(panelTitled('Open connections by kind'))[0].expr),
      /sum by \(kind\) \(tapgate_connections_open/,
    );
    const ratio = String(targetsOf(panelTitled('User-status cache hit ratio'))[0].expr);
    assert.match(ratio, /tapgate_userstatus_cache_total\{[^}]*result="hit"\}.*\/.*result=~"hit\|miss"/);
  });
});
