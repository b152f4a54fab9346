// Which metric names a PromQL expression reads. Good enough for dashboard queries: label matchers,
// strings, ranges, grouping clauses and Grafana variables are removed; what remains that is not a
// function, keyword or number is a metric name.
import { listRepoFiles, readRepoFile } from './index';

const FUNCTIONS = new Set([
  'abs',
  'absent',
  'avg_over_time',
  'ceil',
  'changes',
  'clamp',
  'clamp_max',
  'clamp_min',
  'count_over_time',
  'delta',
  'deriv',
  'exp',
  'floor',
  'histogram_quantile',
  'idelta',
  'increase',
  'irate',
  'label_replace',
  'label_values',
  'ln',
  'max_over_time',
  'min_over_time',
  'predict_linear',
  'quantile_over_time',
  'rate',
  'resets',
  'round',
  'scalar',
  'sort',
  'sort_desc',
  'sqrt',
  'sum_over_time',
  'time',
  'timestamp',
  'vector',
]);
const AGGREGATIONS = new Set([
  'sum',
  'avg',
  'min',
  'max',
  'count',
  'stddev',
  'stdvar',
  'topk',
  'bottomk',
  'quantile',
  'count_values',
  'group',
]);
const KEYWORDS = new Set([
  'by',
  'without',
  'on',
  'ignoring',
  'group_left',
  'group_right',
  'bool',
  'and',
  'or',
  'unless',
  'offset',
]);

export interface PromqlNames {
  metrics: string[];
  /** Identifiers called like functions that PromQL does not have. */
  unknownFunctions: string[];
}

export function promqlNames(expr: string): PromqlNames {
  const bare = expr
    // Grafana's label_values(metric, label): the second argument is a label, not a metric.
    .replace(/\blabel_values\(([^,)]*),[^)]*\)/g, 'label_values($1)')
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'/g, '""')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ')
    .replace(/\$\{?\w+\}?/g, ' ')
    .replace(/(?<![\w.])\d+(?:\.\d+)?(?:[eE][+-]?\d+)?(?:ms|s|m|h|d|w|y)?(?!\w)/g, ' ');
  const metrics = new Set<string>();
  const unknownFunctions = new Set<string>();
  for (const m of bare.matchAll(/(?<![\w.])[A-Za-z_:][\w:]*/g)) {
    const name = m[0];
    const called = /^\s*\(/.test(bare.slice(m.index + name.length));
    if (called) {
      if (!FUNCTIONS.has(name) && !AGGREGATIONS.has(name)) unknownFunctions.add(name);
    } else if (!KEYWORDS.has(name) && !AGGREGATIONS.has(name) && !/^(e|inf|nan)$/i.test(name)) {
      metrics.add(name);
    }
  }
  return { metrics: [...metrics].sort(), unknownFunctions: [...unknownFunctions].sort() };
}

/**
 * Prometheus names of the instruments the services and libraries create (OpenTelemetry name, dots to
 * underscores; counters get _total, histograms _bucket/_count/_sum), read from their sources.
 */
export function exportedMetrics(): Set<string> {
  const names = new Set<string>(['up']);
  for (const f of [...listRepoFiles('services'), ...listRepoFiles('libs')].filter((p) =>
    /\/src\/.*(?<!\.test)\.ts$/.test(p),
  )) {
    for (const m of readRepoFile(f).matchAll(
      /create(Counter|Histogram|UpDownCounter|ObservableGauge|Gauge)\(\s*'(tapgate\.[\w.]+)'/g,
    )) {
      const base = m[2].replace(/\./g, '_');
      if (m[1] === 'Counter') names.add(`${base}_total`);
      else if (m[1] === 'Histogram') for (const s of ['_bucket', '_count', '_sum']) names.add(base + s);
      else names.add(base);
    }
  }
  return names;
}
