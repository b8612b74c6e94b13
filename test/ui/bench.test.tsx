/** The bench report rendered from a fixture result: Ink screen, live progress, plain, Markdown, CSV. */
import assert from 'node:assert/strict';
import { stripVTControlCharacters } from 'node:util';
import { test } from 'node:test';
import React from 'react';
import { render } from 'ink-testing-library';
import { BenchScreen } from '../../src/ui/screens/BenchScreen.js';
import { BenchProgress } from '../../src/ui/screens/BenchProgress.js';
import { renderBenchPlain } from '../../src/ui/plain/bench.js';
import { CSV_COLUMNS, renderBenchCsv, renderBenchMarkdown } from '../../src/ui/bench-formats.js';
import { sparkline } from '../../src/ui/bench-view.js';
import { describe, histogram, noiseVerdict } from '../../src/core/bench/stats.js';
import { compareSamples } from '../../src/core/bench/compare.js';
import type { BenchReport, BenchRow } from '../../src/core/bench/types.js';

function row(device: string, backend: BenchRow['backend'], base: number, over: Partial<BenchRow> = {}): BenchRow {
  const samples = Array.from({ length: 200 }, (_, i) => base * (1 + ((i * 37) % 20) / 200));
  const stats = describe(samples);
  return {
    model: 'mobilenetv2-seeded', device, deviceName: device === 'CPU' ? 'Xeon' : 'NVIDIA H200', backend, target: backend === 'ort-cpu' ? 'cpu' : 'webgpu',
    batch: 1, concurrency: 1, mode: 'latency', shapes: { input: [1, 3, 224, 224] }, inputSource: 'random',
    sessionMs: 120, firstRunMs: 30, warmup: { iterations: 10, ms: 1000 }, stats,
    throughput: { itemsPerSec: 1000 / stats.mean, requestsPerSec: 1000 / stats.mean, wallMs: 1000 },
    noise: noiseVerdict(stats), histogram: histogram(samples), memory: { rssBytes: 150e6, peakRssBytes: 200e6 },
    interrupted: false, samples, ...over,
  };
}

function report(): BenchReport {
  const cpu = row('CPU', 'ort-cpu', 6, { speedupVsCpu: 1 });
  const gpu = row('GPU.0', 'ort-webgpu', 2, { speedupVsCpu: 3, placement: { fallback: false, note: 'every node ran on webgpu' } });
  const baseSamples = cpu.samples.map((s) => s / 1.5);
  return {
    at: '2026-11-26T12:00:00Z', aivmmVersion: '0.1.0',
    host: { hostname: 'gpu-box', platform: 'linux', arch: 'x64', cpu: 'Xeon', logicalCores: 16, memoryBytes: 128 * 1024 ** 3 },
    runtimes: { 'onnxruntime-node': '1.30.0' },
    model: { name: 'mobilenetv2-seeded', path: '/tmp/m.onnx', sha256: 'a'.repeat(64), bytes: 14e6, embedded: true },
    settings: { batches: [], shapes: [], inputFiles: [], seed: 42, concurrency: 1, warmup: { ms: 1000 }, durationMs: 5000, minIterations: 20, maxMs: 30000, epOptions: {}, reference: true, repeat: 1 },
    rows: [cpu, gpu],
    failed: [{ device: 'GPU.1', deviceName: 'x', backend: 'ort-cuda', target: 'cuda:0', error: { code: 'BACKEND_UNAVAILABLE', message: 'CUDA provider libraries not installed' } }],
    skipped: [{ device: 'CPU', backend: 'openvino', reason: 'openvino-node is not installed' }],
    interrupted: false,
    gate: {
      baselinePath: 'main.json', maxRegression: 0.05, regressed: 1, improved: 0, unchanged: 0,
      rows: [
        { key: 'mobilenetv2-seeded | CPU | ort-cpu | batch 1', model: 'mobilenetv2-seeded', device: 'CPU', backend: 'ort-cpu', batch: 1, status: 'compared', baselineP50: 4, currentP50: 6, comparison: compareSamples(cpu.samples, baseSamples, { maxRegression: 0.05 }) },
        { key: 'mobilenetv2-seeded | GPU.0 | ort-webgpu | batch 1', model: 'mobilenetv2-seeded', device: 'GPU.0', backend: 'ort-webgpu', batch: 1, status: 'new', currentP50: 2 },
      ],
    },
    warnings: ['GPU.1 ort-cuda failed: CUDA provider libraries not installed'],
    elapsedMs: 12000,
  };
}

test('Ink report: one line per row with p50, speed-up and a latency sparkline; the gate verdicts; failures and warnings', () => {
  const { lastFrame } = render(<BenchScreen report={report()} />);
  const frame = stripVTControlCharacters(lastFrame() ?? '');
  assert.match(frame, /mobilenetv2-seeded \(13\.4 MiB, sha256 aaaaaaaaaaaa\) · latency, 1 in flight · 5 s per row/);
  assert.match(frame, /CPU\s+ort-cpu\s+1\s+6\.\d ms/);
  assert.match(frame, /GPU\.0\s+ort-webgpu\s+1\s+2\.\d ms .* 3\.00×/);
  assert.match(frame, /[▁▂▃▄▅▆▇█]{5,}/);
  assert.match(frame, /Gate against main\.json, limit 5\.0%: 1 regressed/);
  assert.match(frame, /regressed\s+mobilenetv2-seeded \| CPU \| ort-cpu \| batch 1\s+4\.0 ms → 6\.0 ms \(\+50\.\d%\)/);
  assert.match(frame, /new \(not in baseline\)/);
  assert.match(frame, /failed GPU\.1 ort-cuda: CUDA provider libraries not installed/);
});

test('live progress: done, running with a bar and runs, pending', () => {
  const { lastFrame } = render(
    <BenchProgress
      title="benchmarking m on 3 pairs"
      pairs={[
        { label: 'CPU ort-cpu', state: 'done', result: 'b1 p50 6.1 ms' },
        { label: 'GPU.0 ort-webgpu', state: 'running', phase: 'measuring batch 1', fraction: 0.5, runs: 120, lastMs: 2.1 },
        { label: 'GPU.1 ort-cuda', state: 'pending' },
      ]}
    />,
  );
  const frame = stripVTControlCharacters(lastFrame() ?? '');
  assert.match(frame, /✔ CPU ort-cpu\s+b1 p50 6\.1 ms/);
  assert.match(frame, /▶ GPU\.0 ort-webgpu\s+█{10}░{10} measuring batch 1 · 120 runs · last 2\.1 ms/);
  assert.match(frame, /· GPU\.1 ort-cuda/);
});

test('plain, Markdown and CSV carry the same numbers', () => {
  const r = report();
  const plain = renderBenchPlain(r);
  assert.match(plain, /│ GPU\.0\s+│ ort-webgpu │ 1\s+│ 2\.\d ms/);
  assert.match(plain, /Gate against main\.json/);
  const md = renderBenchMarkdown(r);
  assert.match(md, /\| GPU\.0 \| ort-webgpu \| 1 \| 2\.\d ms \|/);
  assert.match(md, /❌ regressed/);
  assert.match(md, /mobilenetv2-seeded \\\| CPU/); // pipes in cells are escaped
  const csv = renderBenchCsv(r).trim().split('\n');
  assert.equal(csv.length, 3);
  const cols = (csv[1] ?? '').split(',');
  assert.equal(cols.length, CSV_COLUMNS.length);
  assert.equal(cols[CSV_COLUMNS.indexOf('gate_verdict')], 'regressed');
  assert.equal(Number(cols[CSV_COLUMNS.indexOf('p50_ms')]).toFixed(3), r.rows[0]?.stats.p50.toFixed(3));
});

test('sparkline: tallest bin is a full block, empty bins are blank', () => {
  assert.equal(sparkline([0, 1, 2, 4, 8, 0]), ' ▁▂▄█ ');
  assert.equal(sparkline([]), '');
});

test('Ink report at 80 and 60 columns: every table row on one line, columns dropped by priority, the sparkline cut to fit', async () => {
  const { renderToString } = await import('ink');
  for (const columns of [80, 60]) {
    const out = stripVTControlCharacters(renderToString(<BenchScreen report={report()} columns={columns} />, { columns }));
    const lines = out.split('\n');
    const header = lines.findIndex((l) => l.startsWith('Device'));
    assert.ok(header >= 0, out);
    const table = lines.slice(header, header + 3);
    assert.match(table[1] ?? '', /^CPU\s+ort-cpu/, out);
    assert.match(table[2] ?? '', /^GPU\.0\s+ort-webgpu/, out);
    for (const l of table) assert.ok(l.length <= columns, `${l.length} > ${columns}: ${l}`);
    assert.ok(table[0]?.includes('p50'), 'p50 is kept');
    if (columns === 60) assert.ok(!table[0]?.includes('p90'), 'p90 is the first to go');
  }
  // wide terminals keep everything
  const wide = stripVTControlCharacters(renderToString(<BenchScreen report={report()} columns={160} />, { columns: 160 }));
  assert.match(wide, /Device\s+Backend\s+Batch\s+p50\s+p90\s+p99\s+CV\s+Items\/s\s+vs CPU\s+p1 … p99/);
});
