/**
 * The CI gate end to end (issue #21), real worker processes on real onnxruntime sessions: `--against`
 * deciding on a model and its 2×-compute twin built here, a measurement-mode mismatch refused, "too
 * noisy" and "no row matched" with their own exit codes, the new report fields valid against the schema.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, writeFile, mkdir } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import os from 'node:os';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Ajv } from 'ajv';
import { EXIT_CODES } from '../../src/cli/exit-codes.js';
import { GraphBuilder } from '../../src/core/onnx/builder.js';
import { encodeModel } from '../../src/core/onnx/writer.js';
import type { BenchReport } from '../../src/core/bench/types.js';
import { runCli } from '../helpers/run-cli.js';

const schema = JSON.parse(readFileSync(fileURLToPath(new URL('../../docs/schemas/bench-1.schema.json', import.meta.url)), 'utf8')) as object;
const ajv = new Ajv({ allErrors: true, strict: false });
const validate = ajv.compile(schema);

const dir = await mkdtemp(join(os.tmpdir(), 'aivmm-gate-'));
const env = { AIVMM_CACHE_DIR: join(dir, 'cache') };

interface Envelope {
  data: BenchReport;
  warnings: string[];
}

/** x[batch, 64, 256] through `layers` MatMul + Relu layers of 256×256 (4.2 M MACs each): compute in proportion to layers. */
function mlp(layers: number): Uint8Array {
  const b = new GraphBuilder(11);
  let x = b.input({ name: 'x', dataType: 'float32', shape: ['batch', 64, 256] });
  for (let i = 0; i < layers; i++) x = b.op('Relu', [b.op('MatMul', [x, b.constant('w', [256, 256], b.normal(256 * 256, 0.06))])]);
  b.op('Identity', [x], [], 'y');
  b.output({ name: 'y', dataType: 'float32', shape: ['batch', 64, 256] });
  return encodeModel({ producerName: 'aivmm-test', producerVersion: '1', graph: b.graph('mlp') });
}

await mkdir(join(dir, 'old'));
await mkdir(join(dir, 'new'));
const oldModel = join(dir, 'old', 'model.onnx');
const twin = join(dir, 'new', 'model.onnx');
await writeFile(oldModel, mlp(6));
await writeFile(twin, mlp(12));

test('--against: a 2×-compute twin is a regression decided on paired blocks; the old model against itself is not', async () => {
  const r = await runCli(['bench', twin, '-d', 'CPU', '--threads', '1', '--duration', '3s', '--warmup', '5', '--against', oldModel, '--json'], { env });
  assert.equal(r.code, EXIT_CODES.REGRESSION, r.stderr);
  const doc = JSON.parse(r.stdout) as Envelope;
  assert.ok(validate(doc), ajv.errorsText(validate.errors));
  const row = doc.data.rows[0];
  assert.ok(row?.paired && row.paired.current.length >= 6 && row.paired.current.length === row.paired.old.length);
  const c = doc.data.gate?.rows[0]?.comparison;
  assert.equal(doc.data.gate?.method, 'against');
  assert.equal(c?.method, 'paired');
  assert.equal(c?.verdict, 'regressed');
  // The sequential rule: one look per --duration, at most 10 by default; the trace records the looks the worker took.
  assert.equal(c?.looks?.maxLooks, 10);
  assert.equal(row.paired.looks?.length, c?.looks?.look);
  assert.ok((c?.ratio ?? 0) > 1.4 && (c?.ratio ?? 9) < 2.6, `paired ratio ${c?.ratio}`);
  assert.equal(doc.data.measurement?.mode.against, 'model.onnx');
  assert.equal(doc.data.against?.path, oldModel);
  assert.match(r.stderr, /1 regression\(s\) against .*old\/model\.onnx/);

  const same = await runCli(['bench', oldModel, '-d', 'CPU', '--threads', '1', '--duration', '2s', '--max-duration', '4s', '--warmup', '5', '--against', oldModel, '--json'], { env });
  assert.notEqual(same.code, EXIT_CODES.REGRESSION, same.stderr);
  assert.equal((JSON.parse(same.stdout) as Envelope).data.gate?.regressed, 0);
});

test('--against with --baseline, or with models of other inputs: one line, exit 2', async () => {
  const both = await runCli(['bench', twin, '-d', 'CPU', '--against', oldModel, '--baseline', join(dir, 'x.json')], { env });
  assert.equal(both.code, EXIT_CODES.USAGE);
  assert.match(both.stderr, /--baseline and --against are two gates/);
  const budget = await runCli(['bench', twin, '-d', 'CPU', '--max-duration', '20s'], { env });
  assert.equal(budget.code, EXIT_CODES.USAGE);
  assert.match(budget.stderr, /--max-duration goes with --against/);
  const other = await runCli(['bench', 'tiny-convnet', '-d', 'CPU', '-n', '10', '--warmup', '1', '--against', oldModel], { env });
  assert.equal(other.code, EXIT_CODES.USAGE, other.stderr);
  assert.match(other.stderr, /its inputs \(x\) differ from tiny-convnet's \(input\)/);
});

const quick = ['tiny-convnet', '-d', 'CPU', '-n', '24', '--warmup', '3'];

test('a baseline measured in another mode is refused before measuring (exit 2); so is an old --json baseline with the reference', async () => {
  const base = join(dir, 'threads1.json');
  const saved = await runCli(['bench', ...quick, '--threads', '1', '--save', base], { env });
  assert.equal(saved.code, 0, saved.stderr);
  const doc = JSON.parse(await readFile(base, 'utf8')) as Envelope;
  assert.ok(validate(doc), ajv.errorsText(validate.errors));
  assert.equal(doc.data.settings.repeat, 3); // --save gates later: 3 processes by default
  assert.equal(doc.data.rows[0]?.repeatMedians?.length, 3);
  assert.equal(doc.data.measurement?.mode.reference, false);
  assert.match(doc.data.measurement?.host.hostnameSha256 ?? '', /^[0-9a-f]{16}$/);

  const other = await runCli(['bench', ...quick, '--baseline', base], { env });
  assert.equal(other.code, EXIT_CODES.USAGE, other.stderr);
  assert.match(other.stderr, /^error: baseline .*threads1\.json was measured in another mode \(threads: baseline 1, now unset\)/m);
  assert.equal(other.stdout, '');

  // What issue #21 hit: a baseline written before reports carried a mode, measured with the reference workload.
  delete doc.data.measurement;
  doc.data.settings.reference = true;
  const old = join(dir, 'old-ref.json');
  await writeFile(old, JSON.stringify({ schema: 'aivmm/bench@1', ok: true, ...doc }));
  const refused = await runCli(['bench', ...quick, '--threads', '1', '--baseline', old], { env });
  assert.equal(refused.code, EXIT_CODES.USAGE, refused.stderr);
  assert.match(refused.stderr, /reference: baseline true, now false/);
});

test('one process on each side: the gate cannot learn its noise floor and says "too noisy" (exit 13), never a guess', async () => {
  const base = join(dir, 'one.json');
  assert.equal((await runCli(['bench', ...quick, '--repeat', '1', '--save', base], { env })).code, 0);
  const r = await runCli(['bench', ...quick, '--repeat', '1', '--baseline', base, '--json'], { env });
  assert.equal(r.code, EXIT_CODES.TOO_NOISY, r.stderr);
  const doc = JSON.parse(r.stdout) as Envelope;
  assert.ok(validate(doc), ajv.errorsText(validate.errors));
  assert.equal(doc.data.gate?.rows[0]?.comparison?.verdict, 'too-noisy');
  assert.equal(doc.data.gate?.tooNoisy, 1);
  assert.match(r.stderr, /too noisy to decide against .*one\.json.*--repeat 3/);
});

test('no row matches the baseline (a renamed model): exit 14, unless --allow-missing', async () => {
  const base = join(dir, 'tiny.json');
  const flags = ['-d', 'CPU', '-n', '12', '--warmup', '2', '--repeat', '2'];
  assert.equal((await runCli(['bench', 'tiny-convnet', ...flags, '--save', base], { env })).code, 0);
  const r = await runCli(['bench', 'probe-mlp', ...flags, '--baseline', base], { env });
  assert.equal(r.code, EXIT_CODES.GATE_UNMATCHED, r.stderr);
  assert.match(r.stderr, /no row of this run matches .*tiny\.json: the gate checked nothing.*--allow-missing/);
  const ok = await runCli(['bench', 'probe-mlp', ...flags, '--baseline', base, '--allow-missing', '--json'], { env });
  assert.equal(ok.code, 0, ok.stderr);
  const doc = JSON.parse(ok.stdout) as Envelope;
  assert.equal(doc.data.gate?.matched, 0);
  assert.ok(doc.warnings.some((w) => /no row of this run matches/.test(w)));
});
