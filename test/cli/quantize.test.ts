/** `aivmm quantize` end to end: the result file, --json against aivmm/quantize@1, exit codes for bad input. */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import os from 'node:os';
import { after, test } from 'node:test';
import { rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Ajv } from 'ajv';
import { EXIT_CODES } from '../../src/cli/exit-codes.js';
import { runCli, spawnCli } from '../helpers/run-cli.js';
import { convNet, mlp } from '../helpers/quant-models.js';

const schema = (name: string): object => JSON.parse(readFileSync(fileURLToPath(new URL(`../../docs/schemas/${name}`, import.meta.url)), 'utf8')) as object;
const ajv = new Ajv({ allErrors: true, strict: false });
const validateQuantize = ajv.compile(schema('quantize-1.schema.json'));
const validateError = ajv.compile(schema('error-1.schema.json'));

const dir = mkdtempSync(join(os.tmpdir(), 'aivmm-quantize-cli-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const env = { AIVMM_CACHE_DIR: join(dir, 'cache') };
writeFileSync(join(dir, 'convnet.onnx'), convNet());
writeFileSync(join(dir, 'mlp.onnx'), mlp());

test('quantize --json: one aivmm/quantize@1 document; the file it names loads', async () => {
  const out = join(dir, 'convnet.int8.onnx');
  const r = await runCli(['quantize', join(dir, 'convnet.onnx'), '-o', out, '--calibration', 'random:4', '--latency', '200ms', '--json'], { env });
  assert.equal(r.code, 0, r.stderr);
  const doc = JSON.parse(r.stdout) as { schema: string; data: { output: { path: string }; mode: string; latency?: unknown }; warnings: string[] };
  assert.ok(validateQuantize(doc), ajv.errorsText(validateQuantize.errors));
  assert.equal(doc.data.mode, 'static');
  assert.equal(doc.data.output.path, out);
  assert.ok(doc.data.latency);
  assert.ok(existsSync(out));
  assert.equal(r.stderr, '');
});

test('quantize prints a report: mode, nodes, size, fidelity, latency; the default output lands in the working directory', () => {
  const work = mkdtempSync(join(os.tmpdir(), 'aivmm-quantize-cwd-'));
  const r = spawnCli(['quantize', join(dir, 'mlp.onnx'), '--latency', '200ms'], env, work);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /mlp\.onnx → INT8 dynamic: .*mlp\.int8-dynamic\.onnx/);
  assert.match(r.stdout, /^Nodes: +3 quantized \(2 MatMul, 1 Gemm\)/m);
  assert.match(r.stdout, /^Fidelity: +cosine 0\.99\d+/m);
  assert.match(r.stdout, /^Latency: .* on CPU ort-cpu/m);
  assert.deepEqual(readdirSync(work), ['mlp.int8-dynamic.onnx']);
});

test('bad input: one clear line, a documented exit code, a JSON error document, nothing written', async () => {
  const cases: [string[], number, RegExp][] = [
    [['quantize', join(dir, 'missing.onnx')], EXIT_CODES.NOT_FOUND, /model file .*missing\.onnx not found/],
    [['quantize', join(dir, 'convnet.onnx'), '--mode', 'int4'], EXIT_CODES.USAGE, /invalid --mode 'int4'/],
    [['quantize', join(dir, 'convnet.onnx'), '--method', 'kl'], EXIT_CODES.USAGE, /invalid --method 'kl'/],
    [['quantize', join(dir, 'convnet.onnx'), '--calibration', 'random:0'], EXIT_CODES.USAGE, /the count must be 1–100000/],
    [['quantize', join(dir, 'convnet.onnx'), '--calibration', join(dir, 'nope')], EXIT_CODES.NOT_FOUND, /calibration data .* not found/],
    [['quantize', join(dir, 'convnet.onnx'), '--device', 'GPU.7'], EXIT_CODES.NOT_FOUND, /device GPU\.7 not found/],
    [['quantize', join(dir, 'convnet.onnx'), '-o', join(dir, 'convnet.onnx')], EXIT_CODES.USAGE, /is the input model/],
    [['quantize', join(dir, 'convnet.onnx'), '-o', join(dir, 'out.txt')], EXIT_CODES.USAGE, /must end in \.onnx/],
  ];
  writeFileSync(join(dir, 'text.onnx'), 'hello');
  cases.push([['quantize', join(dir, 'text.onnx')], EXIT_CODES.USAGE, /is not an ONNX model/]);
  const before = readdirSync(dir).sort();
  for (const [argv, code, message] of cases) {
    const r = await runCli(argv, { env });
    assert.equal(r.code, code, `${argv.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, message);
    assert.equal(r.stderr.split('\n').filter((l) => l.startsWith('error:')).length, 1);
    assert.ok(!/\n\s+at /.test(r.stderr), 'no stack trace');
    const j = await runCli([...argv, '--json'], { env });
    assert.equal(j.code, code);
    assert.ok(validateError(JSON.parse(j.stdout)), j.stdout);
  }
  assert.deepEqual(readdirSync(dir).sort(), before);
});
