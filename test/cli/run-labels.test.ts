/**
 * Classification labels against the model's head (#15): labels that do not fit (coco-80 on a 1000-class
 * head) are refused (exit 2); a bare 1000- or 1001-class model gets ImageNet's names, and says so; the
 * embedded demo model's results carry a notice that its labels mean nothing.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import os from 'node:os';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Ajv } from 'ajv';
import sharp from 'sharp';
import { EXIT_CODES } from '../../src/cli/exit-codes.js';
import { GraphBuilder } from '../../src/core/onnx/builder.js';
import { encodeModel } from '../../src/core/onnx/writer.js';
import { runCli } from '../helpers/run-cli.js';

const dir = mkdtempSync(join(os.tmpdir(), 'aivmm-run-labels-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const env = { AIVMM_CACHE_DIR: join(dir, 'cache') };
const ajv = new Ajv({ allErrors: true, strict: false });
const validateRun = ajv.compile(JSON.parse(readFileSync(fileURLToPath(new URL('../../docs/schemas/run-1.schema.json', import.meta.url)), 'utf8')) as object);

/** pixels [1,3,16,16] → mean per channel → × W[3, classes]: class `hot` wins for any image. */
function classifier(classes: number, hot: number): string {
  const b = new GraphBuilder(1);
  const x = b.input({ name: 'pixel_values', dataType: 'float32', shape: [1, 3, 16, 16] });
  const pooled = b.op('Flatten', [b.op('GlobalAveragePool', [x])]);
  const w = new Float32Array(3 * classes);
  for (let c = 0; c < 3; c++) w[c * classes + hot] = 1;
  const bias = new Float32Array(classes);
  bias[hot] = 10;
  b.op('Add', [b.op('MatMul', [pooled, b.constant('w', [3, classes], w)]), b.constant('b', [classes], bias)], [], 'logits');
  b.output({ name: 'logits', dataType: 'float32', shape: [1, classes] });
  const path = join(dir, `head${classes}.onnx`);
  writeFileSync(path, encodeModel({ graph: b.graph(`head${classes}`) }));
  return path;
}

const img = join(dir, 'a.png');
await sharp({ create: { width: 20, height: 20, channels: 3, background: { r: 120, g: 130, b: 140 } } }).png().toFile(img);
type Doc = { data: { results: { top: { label?: string; index: number }[] }[]; notices?: string[] } };

test('--labels coco-80 on a 1000-class head: exit 2, one line', async () => {
  const m = classifier(1000, 815);
  const r = await runCli(['run', m, '--task', 'image-classification', '--input', img, '--labels', 'coco-80'], { env });
  assert.equal(r.code, EXIT_CODES.USAGE, r.stderr);
  assert.match(r.stderr, /name 80 classes; the model's head has 1000/);
  assert.ok(!/\n\s+at /.test(r.stderr));
});

test('a bare 1000-class model gets ImageNet labels and says so; 1001 classes: background first', async () => {
  const r = await runCli(['run', classifier(1000, 815), '--task', 'image-classification', '--input', img, '--json'], { env });
  assert.equal(r.code, 0, r.stderr);
  const doc = JSON.parse(r.stdout) as Doc;
  assert.ok(validateRun(doc), ajv.errorsText(validateRun.errors));
  assert.equal(doc.data.results[0]?.top[0]?.label, 'spider web, spider\'s web');
  assert.match(doc.data.notices?.[0] ?? '', /ImageNet-1k, assumed from the model's 1000-class head/);
  const plain = await runCli(['run', classifier(1001, 816), '--task', 'image-classification', '--input', img], { env });
  assert.equal(plain.code, 0, plain.stderr);
  assert.match(plain.stdout, /spider web/);
  assert.match(plain.stderr, /note: labels: ImageNet-1k/);
  // a head of another size keeps class numbers
  const other = await runCli(['run', classifier(10, 3), '--task', 'image-classification', '--input', img, '--json'], { env });
  const top = (JSON.parse(other.stdout) as Doc).data.results[0]?.top[0];
  assert.equal(top?.index, 3);
  assert.equal(top?.label, undefined);
});

test('the embedded demo model: a notice that its labels mean nothing', async () => {
  const r = await runCli(['run', '--input', img, '--json'], { env });
  assert.equal(r.code, 0, r.stderr);
  const doc = JSON.parse(r.stdout) as Doc;
  assert.ok(validateRun(doc), ajv.errorsText(validateRun.errors));
  assert.ok(doc.data.notices?.some((n) => /seeded \(random\) weights.*labels mean nothing/.test(n)), JSON.stringify(doc.data.notices));
});
