/** `aivmm quantize` end to end: the result file, --json against aivmm/quantize@1, exit codes for bad input. */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import os from 'node:os';
import { after, test } from 'node:test';
import { spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Ajv } from 'ajv';
import { EXIT_CODES } from '../../src/cli/exit-codes.js';
import { BIN, runCli, spawnCli } from '../helpers/run-cli.js';
import { convNet, convNetSpec, mlp } from '../helpers/quant-models.js';
import { encodeModel } from '../../src/core/onnx/writer.js';

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
    [['quantize', join(dir, 'convnet.onnx'), '-o', join(dir, 'no', 'such', 'dir', 'q.onnx')], EXIT_CODES.CONFIG, /cannot write .*q\.onnx: directory .*no\/such\/dir does not exist/],
    [['quantize', join(dir, 'mlp.onnx'), '--shape', 'x=1x0'], EXIT_CODES.USAGE, /invalid --shape 'x=1x0'/],
    [['quantize', join(dir, 'mlp.onnx'), '--shape', 'nope=1x4'], EXIT_CODES.USAGE, /--shape names input 'nope', which the model does not have/],
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

/** Spawns `aivmm quantize … --verbose`, sends `signal` once stderr shows `stage`, and reports how it ended. */
function interrupt(argv: string[], stage: string, signal: NodeJS.Signals): Promise<{ code: number | null; signal: string | null; afterMs: number; stderr: string }> {
  return new Promise((done) => {
    const child = spawn(process.execPath, [BIN, 'quantize', ...argv, '--verbose'], { env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    let sentAt = 0;
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
      if (!sentAt && new RegExp(`^aivmm: ${stage}\\b`, 'm').test(stderr)) {
        sentAt = performance.now();
        child.kill(signal);
      }
    });
    child.on('exit', (code, sig) => done({ code, signal: sig, afterMs: sentAt ? performance.now() - sentAt : -1, stderr }));
  });
}

const tmpEntries = (d: string): string[] => readdirSync(d).filter((n) => n.includes('.tmp.'));

test('Ctrl-C during evaluation or the latency stage: exit 130 at once, the existing target untouched, no temporary files', async () => {
  const work = mkdtempSync(join(os.tmpdir(), 'aivmm-quantize-sigint-'));
  const out = join(work, 'convnet.int8.onnx');
  writeFileSync(out, 'the good old model');
  for (const stage of ['evaluate', 'latency']) {
    const r = await interrupt([join(dir, 'convnet.onnx'), '-o', out, '--calibration', 'random:4', '--latency', '60s'], stage, 'SIGINT');
    assert.equal(r.code, EXIT_CODES.CANCELLED, `${stage}: ${r.stderr}`);
    assert.ok(r.afterMs >= 0 && r.afterMs < 5000, `${stage}: exited ${Math.round(r.afterMs)} ms after Ctrl-C`);
    assert.match(r.stderr, /interrupted: nothing was written/);
    assert.equal(readFileSync(out, 'utf8'), 'the good old model');
    assert.deepEqual(tmpEntries(work), []);
  }
});

test('a run killed during evaluation leaves the target as it was; the next run removes its staging directory', async () => {
  const work = mkdtempSync(join(os.tmpdir(), 'aivmm-quantize-kill-'));
  const out = join(work, 'convnet.int8.onnx');
  writeFileSync(out, 'the good old model');
  const r = await interrupt([join(dir, 'convnet.onnx'), '-o', out, '--calibration', 'random:4', '--latency', '60s'], 'evaluate', 'SIGKILL');
  assert.equal(r.signal, 'SIGKILL');
  assert.equal(readFileSync(out, 'utf8'), 'the good old model');
  assert.equal(tmpEntries(work).length, 1, 'a killed run cannot clean up after itself');
  const again = await runCli(['quantize', join(dir, 'convnet.onnx'), '-o', out, '--calibration', 'random:4', '--no-latency', '--json'], { env });
  assert.equal(again.code, 0, again.stderr);
  assert.deepEqual(tmpEntries(work), []);
  assert.notEqual(readFileSync(out, 'utf8'), 'the good old model');
});

test('dynamic on the tiny-llama fixture (dynamic [1, S] inputs, a KV cache) needs no --shape; --shape is accepted', async () => {
  const llama = fileURLToPath(new URL('../fixtures/tiny-llama/model.onnx', import.meta.url));
  const work = mkdtempSync(join(os.tmpdir(), 'aivmm-quantize-llama-'));
  for (const extra of [[], ['--shape', 'input_ids=1x8', '--shape', 'attention_mask=1x8', '--shape', 'position_ids=1x8']]) {
    const r = await runCli(['quantize', llama, '--mode', 'dynamic', '-o', join(work, 'llama.int8.onnx'), '--no-latency', '--json', ...extra], { env });
    assert.equal(r.code, 0, r.stderr);
    const doc = JSON.parse(r.stdout) as { data: { nodes: { quantized: number }; fidelity: { cosine: number } } };
    assert.ok(doc.data.nodes.quantized > 0 && doc.data.fidelity.cosine > 0.99, r.stdout.slice(0, 400));
  }
});

test('onnxruntime logs nothing on stderr (unused initializers: its "Removing initializer" warnings stay off), even verbose', () => {
  const base = convNetSpec();
  const unused = Array.from({ length: 20 }, (_, i) => ({ name: `unused_${i}`, dataType: 'float32' as const, dims: [4], data: new Float32Array(4) }));
  const spec = { ...base, graph: { ...base.graph, initializers: [...base.graph.initializers, ...unused] } };
  const work = mkdtempSync(join(os.tmpdir(), 'aivmm-quantize-logs-'));
  writeFileSync(join(work, 'unused.onnx'), encodeModel(spec));
  const r = spawnCli(['quantize', join(work, 'unused.onnx'), '-o', join(work, 'q.onnx'), '--calibration', 'random:4', '--latency', '100ms', '--verbose'], { ...env, NO_COLOR: '1' });
  assert.equal(r.code, 0, r.stderr);
  assert.ok(!/onnxruntime|Removing initializer/.test(r.stderr), r.stderr);
  assert.ok(!r.stderr.includes('\u001b['), 'no escape sequences with NO_COLOR');
});
