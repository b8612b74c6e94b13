/** docs/metrics.md documents exactly what /metrics exposes: every metric name, its type and its label set, both ways. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { createServeMetrics } from '../../src/core/serve-metrics/index.js';
import { labelSets, parseExposition } from '../helpers/prom-text.js';

interface DocRow {
  name: string;
  type: string;
  labels: string;
}

/** The rows of every table whose header starts `| name | type | labels |`. */
function docRows(markdown: string): DocRow[] {
  const rows: DocRow[] = [];
  let inTable = false;
  for (const line of markdown.split('\n')) {
    if (/^\| name \| type \| labels \|/.test(line)) {
      inTable = true;
      continue;
    }
    if (!line.startsWith('|')) {
      inTable = false;
      continue;
    }
    if (!inTable || /^\|[-| ]+\|$/.test(line)) continue;
    const cells = line.split(/(?<!\\)\|/).slice(1, -1).map((c) => c.trim());
    const name = /^`([a-zA-Z_:][a-zA-Z0-9_:]*)`$/.exec(cells[0] ?? '')?.[1];
    assert.ok(name, `a metrics table row without a metric name: ${line}`);
    const labels = [...(cells[2] ?? '').matchAll(/`([a-zA-Z_][a-zA-Z0-9_]*)`/g)].map((m) => m[1]!).sort().join(',');
    rows.push({ name, type: (cells[1] ?? '').replace(/ \(opt-in\)$/, ''), labels });
  }
  return rows;
}

/** A registry with every metric holding at least one series. */
async function everything(): Promise<string> {
  const m = createServeMetrics({ summaries: true });
  m.recordRequest({ model: 'tiny', version: '1', outcome: 'success', queueS: 0.001, inputS: 0.001, inferS: 0.002, outputS: 0.001, batch: 1 });
  m.recordRequest({ model: 'tiny', version: '1', outcome: 'failure', reason: 'rejected' });
  m.setPending('tiny', '1', 3);
  m.recordLoad('tiny', '1', 'load');
  m.recordGeneration({ model: 'llm', ttftS: 0.1, tpotS: 0.02, tokens: 5 });
  const readings = { utilization: 0.5, frequencyRatio: 0.9, memoryUsedBytes: 1, memoryTotalBytes: 2, powerW: 10, powerLimitW: 20, temperatureC: 40 };
  m.setDevice({ device: 'CPU', kind: 'cpu', vendor: 'Intel', name: 'CPU', at: 0, sources: {}, ...readings, energyJ: 0 });
  m.recordBatch({ model: 'tiny', version: '1', size: 1, device: 'CPU', inferS: 0.002 });
  m.setDevice({ device: 'CPU', kind: 'cpu', vendor: 'Intel', name: 'CPU', at: 1000, sources: {}, ...readings, energyJ: 10 });
  return m.exposition();
}

/** Every disagreement between an exposition and the documented rows. */
function disagreements(families: ReturnType<typeof parseExposition>, rows: DocRow[]): string[] {
  const documented = new Map(rows.map((r) => [r.name, r]));
  const problems: string[] = [];
  if (documented.size !== rows.length) problems.push('a metric documented twice');
  for (const f of families.values()) {
    const row = documented.get(f.name);
    if (!row) {
      problems.push(`${f.name}: exposed but not documented`);
      continue;
    }
    if (row.type !== f.type) problems.push(`${f.name}: documented as ${row.type}, exposed as ${f.type}`);
    if (f.samples.length === 0) problems.push(`${f.name}: the test recorded no series for it`);
    for (const set of labelSets(f)) if (set !== row.labels) problems.push(`${f.name}: exposed labels {${set}}, documented {${row.labels}}`);
  }
  for (const r of rows) if (!families.has(r.name)) problems.push(`${r.name}: documented but not exposed`);
  return problems;
}

const METRICS_MD = new URL('../../docs/metrics.md', import.meta.url);

test('every exposed metric is in docs/metrics.md with its type and label set, and every documented one is exposed', async () => {
  const families = parseExposition(await everything());
  const rows = docRows(readFileSync(METRICS_MD, 'utf8'));
  assert.ok(rows.length >= 30, `only ${rows.length} metric rows found in docs/metrics.md`);
  assert.deepEqual(disagreements(families, rows), []);
});

test('the docs check catches a missing, an extra, a mistyped and a mislabelled metric', async () => {
  const families = parseExposition(await everything());
  const broken = readFileSync(METRICS_MD, 'utf8')
    .replace(/^\| `aivmm_inference_exec_count_total` .*\n/m, '')
    .replace('| `aivmm_inference_pending_requests` | gauge |', '| `aivmm_inference_pending_requests` | counter |')
    .replace('| `aivmm_device_power_watts` | gauge | `device` |', '| `aivmm_device_power_watts` | gauge | `device`, `gpu` |')
    .replace('| name | type | labels | unit | meaning | Triton / OVMS equivalent |\n|---|---|---|---|---|---|\n', (h) => `${h}| \`aivmm_made_up_total\` | counter | \`model\` | x | y | z |\n`);
  assert.deepEqual(disagreements(families, docRows(broken)).sort(), [
    'aivmm_device_power_watts: exposed labels {device}, documented {device,gpu}',
    'aivmm_inference_exec_count_total: exposed but not documented',
    'aivmm_inference_pending_requests: documented as counter, exposed as gauge',
    'aivmm_made_up_total: documented but not exposed',
  ]);
});
