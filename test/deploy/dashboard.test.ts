/**
 * deploy/grafana/aivmm-dashboard.json: a well-formed Grafana dashboard whose queries use only documented
 * metrics, with a panel for every documented metric.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { METRICS } from '../../src/core/serve-metrics/definitions.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Obj = Record<string, any>;

const dashboard = JSON.parse(readFileSync(new URL('../../deploy/grafana/aivmm-dashboard.json', import.meta.url), 'utf8')) as Obj;
const documented = [...readFileSync(new URL('../../docs/metrics.md', import.meta.url), 'utf8').matchAll(/^\| `((?:aivmm|gen_ai)_[a-z0-9_]+)` \|/gm)].map((m) => m[1]!);

/** The metric names a PromQL expression reads (histogram/summary sample suffixes folded into the family). */
function metricsIn(expr: string, known: readonly string[]): string[] {
  // label names (gen_ai_request_model) look like metric names: drop them
  const labels = new Set(METRICS.flatMap((m) => m.labels));
  const tokens = (expr.match(/\b(aivmm|gen_ai)_[a-z0-9_]+/g) ?? []).filter((t) => !labels.has(t));
  return tokens.map((t) => (known.includes(t) ? t : t.replace(/_(bucket|sum|count)$/, '')));
}

function problems(d: Obj): string[] {
  const p: string[] = [];
  if (typeof d.title !== 'string' || typeof d.uid !== 'string' || !Number.isInteger(d.schemaVersion)) p.push('title, uid or schemaVersion missing');
  const panels = (d.panels ?? []) as Obj[];
  const ids = panels.map((x) => x.id);
  if (new Set(ids).size !== ids.length) p.push('panel ids are not unique');
  const vars = new Set(((d.templating?.list ?? []) as Obj[]).map((v) => v.name));
  const used = new Set<string>();
  for (const panel of panels) {
    const g = panel.gridPos;
    if (!g || ![g.x, g.y, g.w, g.h].every(Number.isInteger) || g.x + g.w > 24) p.push(`${panel.title}: bad gridPos`);
    if (panel.type === 'row') continue;
    if (panel.datasource?.uid !== '${datasource}') p.push(`${panel.title}: not on the $datasource variable`);
    const targets = (panel.targets ?? []) as Obj[];
    if (targets.length === 0) p.push(`${panel.title}: no queries`);
    for (const t of targets) {
      const expr = String(t.expr ?? '');
      for (const v of expr.match(/\$(\w+)/g) ?? []) if (!vars.has(v.slice(1)) && !v.startsWith('$__')) p.push(`${panel.title}: ${v} is not a dashboard variable`);
      let depth = 0;
      for (const ch of expr) {
        depth += ch === '(' ? 1 : ch === ')' ? -1 : 0;
        if (depth < 0) break;
      }
      if (depth !== 0) p.push(`${panel.title}: unbalanced parentheses in ${expr}`);
      const names = metricsIn(expr, documented);
      if (names.length === 0) p.push(`${panel.title}: a query that reads no aivmm metric`);
      for (const n of names) {
        if (!documented.includes(n)) p.push(`${panel.title}: ${n} is not in docs/metrics.md`);
        used.add(n);
      }
    }
  }
  for (const n of documented) if (!used.has(n)) p.push(`${n}: documented but on no panel`);
  return p;
}

test('the Grafana dashboard is well formed, reads only documented metrics, and shows every one of them', () => {
  assert.ok(documented.length >= 30);
  assert.deepEqual(new Set(documented), new Set(METRICS.map((m) => m.name)));
  assert.deepEqual(problems(dashboard), []);
});

test('the dashboard check catches an undocumented metric, a lost panel and a broken query', () => {
  const d = structuredClone(dashboard);
  const temp = (d.panels as Obj[]).findIndex((x) => x.title === 'Temperature');
  d.panels.splice(temp, 1);
  d.panels[1].targets[0].expr = 'rate(aivmm_requests_total[5m]';
  const p = problems(d);
  assert.ok(p.includes('aivmm_device_temperature_celsius: documented but on no panel'), JSON.stringify(p));
  assert.ok(p.some((x) => /aivmm_requests_total is not in docs/.test(x)));
  assert.ok(p.some((x) => /unbalanced parentheses/.test(x)));
});
