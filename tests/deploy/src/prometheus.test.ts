// The Grafana dashboard and the chart's alerts against a real Prometheus (Debian's): the four services run
// as processes (Platform) with Active Directory (Samba), Prometheus scrapes each one's /metrics the way
// the chart's ServiceMonitor describes (job = the Service's name, namespace and pod target labels), a small
// tap load runs, and every panel query must return data; every alert rule must evaluate without error.
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { stringify } from 'yaml';
import {
  Platform,
  freePort,
  sambaLdapSettings,
  sleep,
  spawnServer,
  startSambaAd,
  waitFor,
  type ManagedProcess,
  type SambaAd,
} from '@tapgate/testing';
import { connectTerminal, enrollBand, Nea, tap } from '@tapgate/e2e-tests/dist/harness';
import { render, rendererMissing, type RenderedObject } from './helm-render';
import { isMap, readRepoFile, type JsonMap } from './index';

const NAMESPACE = 'tapgate';
const hasPrometheus = spawnSync('prometheus', ['--version'], { encoding: 'utf8' }).status === 0;
const hasSamba = spawnSync('samba', ['--version'], { encoding: 'utf8' }).status === 0;
const skip =
  rendererMissing() ??
  (!hasPrometheus
    ? 'prometheus is not installed (apt-get install prometheus)'
    : !hasSamba
      ? 'samba is not installed (scripts/setup.sh --with-samba)'
      : false);

/** Panels whose queries may return nothing here, with the reason. Empty: every panel has data. */
const EMPTY_BY_DESIGN: Record<string, string> = {};

interface PromResult {
  metric: Record<string, string>;
  value: [number, string];
}

const dashboard = JSON.parse(readRepoFile('charts/tapgate/dashboards/tapgate.json')) as JsonMap;
const allPanels = (panels: unknown): JsonMap[] =>
  (Array.isArray(panels) ? panels : []).filter(isMap).flatMap((p) => [p, ...allPanels(p.panels)]);
const queries = allPanels(dashboard.panels)
  .filter((p) => p.type !== 'row')
  .flatMap((p) =>
    (Array.isArray(p.targets) ? p.targets.filter(isMap) : []).map((t) => ({
      panel: String(p.title),
      expr: String(t.expr),
    })),
  );

describe('dashboard queries and alerts against Prometheus scraping the running services', { skip }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'tapgate-prometheus-'));
  let samba: SambaAd | undefined;
  let platform: Platform | undefined;
  let prometheus: ManagedProcess | undefined;
  let promUrl = '';
  let rendered: RenderedObject[] = [];

  const rule = (alert: string) =>
    (
      (rendered.find((o) => o.kind === 'PrometheusRule')!.spec as JsonMap).groups as {
        rules: { alert: string; expr: string }[];
      }[]
    )
      .flatMap((g) => g.rules)
      .find((r) => r.alert === alert)!;
  const query = async (expr: string): Promise<PromResult[]> => {
    const res = await fetch(`${promUrl}/api/v1/query?query=${encodeURIComponent(expr)}`);
    const body = (await res.json()) as { status: string; error?: string; data: { result: PromResult[] } };
    assert.equal(body.status, 'success', `${expr}: ${body.error}`);
    return body.data.result;
  };

  before(async () => {
    rendered = render({
      valuesFiles: ['tests/deploy/fixtures/values-monitoring.yaml'],
      namespace: NAMESPACE,
    }).objects;
    samba = await startSambaAd();
    // A short cache expiry, so user-status asks the directory again during the load: a histogram's first
    // observation alone gives rate() nothing to measure.
    platform = await Platform.start({
      userStatusCacheExpirySeconds: 5,
      dir: join(dir, 'platform'),
      logLevel: 'warn',
      users: [],
      ldap: sambaLdapSettings(samba),
    });

    // Scrape targets as the ServiceMonitor selects them: every Service labelled tapgate.io/metrics, on the
    // endpoint's port and path; job is the Service's name.
    const monitor = rendered.find((o) => o.kind === 'ServiceMonitor')!;
    const endpoint = ((monitor.spec as JsonMap).endpoints as { port: string; path: string }[])[0];
    const httpPorts: Record<string, number> = {
      'ws-gateway': platform.ports.gatewayHttp,
      presence: platform.ports.presenceHttp,
      'user-status': platform.ports.userStatusHttp,
      policy: platform.ports.policyHttp,
    };
    const scrapeConfigs = rendered
      .filter(
        (o) =>
          o.kind === 'Service' &&
          o.metadata.labels &&
          (o.metadata.labels as JsonMap)['tapgate.io/metrics'] === 'true',
      )
      .map((svc) => {
        const component = (svc.metadata.labels as Record<string, string>)['app.kubernetes.io/component'];
        assert.ok((svc.spec as { ports: { name: string }[] }).ports.some((p) => p.name === endpoint.port));
        return {
          job_name: svc.metadata.name,
          metrics_path: endpoint.path,
          static_configs: [
            {
              targets: [`127.0.0.1:${httpPorts[component]}`],
              labels: { namespace: NAMESPACE, pod: `${component}-0` },
            },
          ],
        };
      });
    assert.equal(scrapeConfigs.length, 4);
    const rule = rendered.find((o) => o.kind === 'PrometheusRule')!;
    writeFileSync(join(dir, 'rules.yaml'), stringify({ groups: (rule.spec as JsonMap).groups }));
    writeFileSync(
      join(dir, 'prometheus.yml'),
      stringify({
        global: { scrape_interval: '1s', evaluation_interval: '1s' },
        rule_files: [join(dir, 'rules.yaml')],
        scrape_configs: scrapeConfigs,
      }),
    );
    const port = await freePort();
    promUrl = `http://127.0.0.1:${port}`;
    prometheus = await spawnServer(
      'prometheus',
      [
        `--config.file=${join(dir, 'prometheus.yml')}`,
        `--storage.tsdb.path=${join(dir, 'tsdb')}`,
        `--web.listen-address=127.0.0.1:${port}`,
        '--log.level=warn',
      ],
      port,
      { timeoutMs: 30_000 },
    );
  });

  after(async () => {
    await prometheus?.stop();
    await platform?.stop();
    await samba?.dispose();
    rmSync(dir, { recursive: true, force: true });
  });

  it('scrapes every service, and after a tap load every dashboard panel query returns data', async () => {
    await waitFor(async () => (await query('up == 1')).length === 4, {
      timeoutMs: 30_000,
      what: 'Prometheus scraping all four services',
    });
    const ep = await connectTerminal(platform!, 'PROM-T1');
    const nea = await Nea.open(platform!, 'PROM-T1');
    try {
      const alice = await enrollBand(platform!, 'alice'); // active in the seeded domain
      const bob = await enrollBand(platform!, 'bob'); // disabled: refused user_not_active
      ep.adverts([alice.advert(-60), bob.advert(-62)]);
      await waitFor(async () => (await tap(ep, alice)).decision.outcome === 'granted', {
        timeoutMs: 20_000,
        what: 'a granted tap',
      });
      let granted = 0;
      let refused = 0;
      const until = Date.now() + 25_000;
      while (Date.now() < until) {
        ep.adverts([alice.advert(-60), bob.advert(-62)]);
        if ((await tap(ep, alice)).decision.outcome === 'granted') granted++;
        if ((await tap(ep, bob)).decision.outcome === 'refused') refused++;
        await sleep(200);
      }
      assert.ok(granted > 20 && refused > 20, `granted ${granted}, refused ${refused}`);
      await sleep(3_000); // the last scrapes

      const empty: string[] = [];
      for (const { panel, expr } of queries) {
        const promql = expr.replaceAll('$namespace', NAMESPACE).replaceAll('$__rate_interval', '1m');
        const result = await query(promql);
        const finite = result.filter((r) => Number.isFinite(Number(r.value[1])));
        if (finite.length === 0) empty.push(`${panel}: ${expr}`);
      }
      assert.deepEqual(
        empty.filter((e) => !Object.keys(EMPTY_BY_DESIGN).some((p) => e.startsWith(`${p}:`))),
        [],
        'panel queries without data',
      );
      // The load shows up as what it was: refusals for user_not_active, grants for alice.
      const byOutcome = await query(
        `sum by (outcome, reason) (increase(tapgate_taps_total{namespace="${NAMESPACE}"}[5m]))`,
      );
      assert.ok(
        byOutcome.some((r) => r.metric.outcome === 'refused' && r.metric.reason === 'user_not_active'),
      );
      assert.ok(byOutcome.some((r) => r.metric.outcome === 'granted'));
    } finally {
      nea.close();
      await ep.stop();
    }
  });

  it('evaluates every alert rule on the live series without error, and none fires for a healthy platform', async () => {
    const res = await fetch(`${promUrl}/api/v1/rules`);
    const body = (await res.json()) as {
      data: { groups: { rules: { name: string; health: string; lastError?: string; state: string }[] }[] };
    };
    const rules = body.data.groups.flatMap((g) => g.rules);
    assert.equal(rules.length, 9);
    for (const r of rules) assert.equal(r.health, 'ok', `${r.name}: ${r.lastError}`);
    // bob's refusals are half the taps: TapgateTapsRefused is pending or firing. The p99 alert follows
    // the p99 this shared machine measured; nothing else is active.
    const p99 = Number(
      (
        await query(
          `histogram_quantile(0.99, sum by (le) (rate(tapgate_tap_latency_bucket{namespace="${NAMESPACE}"}[5m])))`,
        )
      )[0].value[1],
    );
    const threshold = Number(/> ([\d.]+)$/.exec(rule('TapgateTapLatencyHigh').expr)![1]);
    console.log(`tap p99 over the load: ${p99.toFixed(1)} ms (alert threshold ${threshold} ms)`);
    const active = rules.filter((r) => r.state !== 'inactive').map((r) => r.name);
    assert.deepEqual(active, [...(p99 > threshold ? ['TapgateTapLatencyHigh'] : []), 'TapgateTapsRefused']);
    const up = readFileSync(join(dir, 'prometheus.yml'), 'utf8');
    assert.match(up, /tapgate-ws-gateway-metrics/);
  });
});
