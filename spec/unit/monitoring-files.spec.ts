import { readFileSync } from 'node:fs';
import { expect, it } from 'vitest';
import { PROMETHEUS_FAMILIES, PROMETHEUS_SERVICE_FAMILIES } from '../../lib/prometheus.js';

// The alert rules and the dashboard in docs/monitoring name metrics by hand: a renamed family would leave an alert
// that never fires and a panel that stays empty. (`promtool check rules` checks their syntax; this, their names.)
const families = new Map([...PROMETHEUS_FAMILIES, ...PROMETHEUS_SERVICE_FAMILIES].map((family) => [family.name, family.type]));
const LABELS = new Set(['service', 'consumer', 'origin', 'reason', 'result', 'kind', 'le']);

function read(file: string): string {
  return readFileSync(new URL(`../../docs/monitoring/${file}`, import.meta.url), 'utf8');
}

/** Each series name a PromQL expression reads, with the histogram suffix taken off, and the labels it names. */
function namesIn(expression: string): { metrics: string[]; labels: string[] } {
  const metrics = [...expression.matchAll(/\brsc_[a-z_]+/g)].map(([name]) => {
    const family = name.replace(/_(bucket|sum|count)$/, '');
    return families.get(family) === 'histogram' ? family : name;
  });
  const grouped = [...expression.matchAll(/\b(?:by|on) \(([^)]*)\)/g)].flatMap(([, labels]) => labels!.split(',').map((label) => label.trim()));
  const matched = [...expression.matchAll(/[{,]\s*([a-z_]+)\s*=/g)].map(([, label]) => label!);
  return { metrics, labels: [...grouped, ...matched] };
}

function expectKnown(expressions: string[]): void {
  expect(expressions.length).toBeGreaterThan(0);
  for (const expression of expressions) {
    const { metrics, labels } = namesIn(expression);
    expect(metrics.length, expression).toBeGreaterThan(0);
    for (const metric of metrics) expect([...families.keys()], expression).toContain(metric);
    for (const label of labels) expect([...LABELS], expression).toContain(label);
  }
}

it('the alert rules read only metrics and labels redis-stream-client/prometheus exports', () => {
  const expressions = [...read('prometheus-alerts.yml').matchAll(/^\s+expr: (.+)$/gm)].map(([, expression]) => expression!);
  expect(expressions).toHaveLength(10);
  expectKnown(expressions);
});

it('the Grafana dashboard is valid JSON whose every panel query reads metrics and labels the export has', () => {
  const dashboard = JSON.parse(read('grafana-dashboard.json')) as {
    uid: string;
    panels: Array<{ type: string; title: string; targets?: Array<{ expr: string }> }>;
    templating: { list: Array<{ name: string }> };
  };
  expect(dashboard.uid).toBe('redis-stream-client');
  expect(dashboard.templating.list.map((variable) => variable.name)).toEqual(['datasource', 'service']);
  const charts = dashboard.panels.filter((panel) => panel.type !== 'row');
  for (const panel of charts) expect(panel.targets?.length, panel.title).toBeGreaterThan(0);
  const expressions = charts.flatMap((panel) => panel.targets!.map((target) => target.expr));
  for (const expression of expressions) expect(expression).toContain('service="$service"');
  expectKnown(expressions);
});
