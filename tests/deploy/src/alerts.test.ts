// The chart's PrometheusRule, rendered by helm-render, checked and exercised with Prometheus' own promtool:
// `promtool check rules` and `promtool test rules` on series shaped like the services' /metrics.
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { stringify } from 'yaml';
import { render, rendererMissing } from './helm-render';
import { exportedMetrics, promqlNames } from './promql';

const promtool = spawnSync('promtool', ['--version'], { encoding: 'utf8' });
const skip =
  rendererMissing() ??
  (promtool.status === 0 ? false : 'promtool is not installed (apt-get install prometheus)');

describe('PrometheusRule alerts', { skip }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'tapgate-alerts-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const rendered = skip
    ? undefined
    : render({ valuesFiles: ['tests/deploy/fixtures/values-monitoring.yaml'] });
  const rule = rendered?.objects.find((o) => o.kind === 'PrometheusRule');
  const groups =
    (
      rule?.spec as
        | {
            groups: {
              name: string;
              rules: { alert: string; expr: string; annotations: Record<string, string> }[];
            }[];
          }
        | undefined
    )?.groups ?? [];
  const rulesFile = join(dir, 'rules.yaml');
  writeFileSync(rulesFile, stringify({ groups }));

  it('covers gateway down, tap p99, refusals by reason, NATS/Redis/LDAP, audit appends, certificate expiry', () => {
    assert.deepEqual(groups.flatMap((g) => g.rules.map((r) => r.alert)).sort(), [
      'TapgateAuditAppendFailing',
      'TapgateAuditRecordsDropped',
      'TapgateCertificateExpiry',
      'TapgateGatewayDown',
      'TapgateLdapUnreachable',
      'TapgateNatsUnreachable',
      'TapgateRedisUnreachable',
      'TapgateTapLatencyHigh',
      'TapgateTapsRefused',
    ]);
  });

  it('reads only metrics the services export', () => {
    const exported = exportedMetrics();
    assert.ok(
      exported.has('tapgate_taps_total') && exported.has('tapgate_tap_latency_bucket'),
      [...exported].join(),
    );
    for (const r of groups.flatMap((g) => g.rules)) {
      const { metrics, unknownFunctions } = promqlNames(r.expr);
      assert.deepEqual(unknownFunctions, [], r.alert);
      for (const m of metrics) assert.ok(exported.has(m), `${r.alert}: ${m} is exported by no service`);
    }
  });

  it('pass promtool check rules', () => {
    const r = spawnSync('promtool', ['check', 'rules', rulesFile], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /SUCCESS: 9 rules found/);
  });

  it('fire on the series that should fire them, and only those (promtool test rules)', () => {
    const summary = (alert: string) => ({
      summary: groups.flatMap((g) => g.rules).find((r) => r.alert === alert)!.annotations.summary,
    });
    const ns = 'namespace="tapgate"';
    const job = 'job="tapgate-ws-gateway-metrics"';
    const test = {
      rule_files: [rulesFile],
      evaluation_interval: '1m',
      tests: [
        {
          interval: '1m',
          input_series: [
            { series: `up{${ns},${job},pod="gw-1"}`, values: '1x5 0x10' },
            // 100 taps/min: 90 granted fast, 10 refused for user_not_active, all in the 100-250 ms bucket.
            { series: `tapgate_taps_total{${ns},outcome="granted",reason="none"}`, values: '0+90x30' },
            {
              series: `tapgate_taps_total{${ns},outcome="refused",reason="user_not_active"}`,
              values: '0+10x30',
            },
            { series: `tapgate_tap_latency_bucket{${ns},le="5"}`, values: '0x30' },
            { series: `tapgate_tap_latency_bucket{${ns},le="250"}`, values: '0+100x30' },
            { series: `tapgate_tap_latency_bucket{${ns},le="+Inf"}`, values: '0+100x30' },
            { series: `tapgate_presence_failures_total{${ns},operation="publish"}`, values: '0x10 1+1x20' },
            { series: `tapgate_presence_failures_total{${ns},operation="get"}`, values: '0x30' },
            { series: `tapgate_userstatus_cache_total{${ns},result="error"}`, values: '0x30' },
            { series: `tapgate_userstatus_cache_total{${ns},result="hit"}`, values: '0+50x30' },
            { series: `tapgate_ldap_latency_count{${ns},result="error"}`, values: '0+2x30' },
            { series: `tapgate_audit_spool_waiting{${ns},pod="gw-1"}`, values: '0x5 3x25' },
            { series: `tapgate_audit_spool_dropped_total{${ns},pod="gw-1"}`, values: '0x30' },
            // notAfter in Unix seconds; promtool's clock starts at 0: gw-1's certificate has 20 days left,
            // gw-2's 3 days.
            {
              series: `tapgate_tls_certificate_expiry{${ns},pod="gw-1",listener="agent"}`,
              values: '1728000x30',
            },
            {
              series: `tapgate_tls_certificate_expiry{${ns},pod="gw-2",listener="agent"}`,
              values: '259200x30',
            },
          ],
          alert_rule_test: [
            { eval_time: '4m', alertname: 'TapgateGatewayDown', exp_alerts: [] },
            {
              eval_time: '12m',
              alertname: 'TapgateGatewayDown',
              exp_alerts: [
                { exp_labels: { severity: 'critical' }, exp_annotations: summary('TapgateGatewayDown') },
              ],
            },
            {
              eval_time: '25m',
              alertname: 'TapgateTapLatencyHigh',
              exp_alerts: [
                {
                  exp_labels: { severity: 'warning' },
                  exp_annotations: { summary: 'Tap p99 is 247.6 ms (threshold 50 ms).' },
                },
              ],
            },
            {
              eval_time: '25m',
              alertname: 'TapgateTapsRefused',
              exp_alerts: [
                {
                  exp_labels: { severity: 'warning', reason: 'user_not_active' },
                  exp_annotations: { summary: '10% of taps refused with reason user_not_active.' },
                },
              ],
            },
            { eval_time: '9m', alertname: 'TapgateNatsUnreachable', exp_alerts: [] },
            {
              eval_time: '25m',
              alertname: 'TapgateNatsUnreachable',
              exp_alerts: [
                { exp_labels: { severity: 'critical' }, exp_annotations: summary('TapgateNatsUnreachable') },
              ],
            },
            { eval_time: '25m', alertname: 'TapgateRedisUnreachable', exp_alerts: [] },
            {
              eval_time: '25m',
              alertname: 'TapgateLdapUnreachable',
              exp_alerts: [
                { exp_labels: { severity: 'critical' }, exp_annotations: summary('TapgateLdapUnreachable') },
              ],
            },
            { eval_time: '10m', alertname: 'TapgateAuditAppendFailing', exp_alerts: [] },
            {
              eval_time: '25m',
              alertname: 'TapgateAuditAppendFailing',
              exp_alerts: [
                {
                  exp_labels: { severity: 'critical' },
                  exp_annotations: summary('TapgateAuditAppendFailing'),
                },
              ],
            },
            { eval_time: '25m', alertname: 'TapgateAuditRecordsDropped', exp_alerts: [] },
            {
              eval_time: '25m',
              alertname: 'TapgateCertificateExpiry',
              exp_alerts: [
                {
                  exp_labels: { severity: 'warning', pod: 'gw-2', listener: 'agent' },
                  exp_annotations: {
                    summary:
                      'The agent certificate served by gw-2 expires in 2d 23h 35m 0s; renew it and restart the gateway.',
                  },
                },
              ],
            },
          ],
        },
      ],
    };
    const testFile = join(dir, 'rules.test.yaml');
    writeFileSync(testFile, stringify(test));
    const r = spawnSync('promtool', ['test', 'rules', testFile], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stdout + r.stderr);
    assert.match(r.stdout + r.stderr, /SUCCESS/);
  });
});
