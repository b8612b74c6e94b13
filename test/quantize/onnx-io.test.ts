/** ONNX protobuf reading and writing: exact round trips, typed-field tensors, external data, bad files. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { existsSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import os from 'node:os';
import { buildMobilenetV2 } from '../../src/core/models/embedded.js';
import { decodeModel, OnnxFormatError, readModelFile } from '../../src/core/onnx/reader.js';
import { encodeModel, writeModelFile } from '../../src/core/onnx/writer.js';
import { tensorFloats } from '../../src/core/onnx/model.js';
import { floatToHalf, halfToFloat } from '../../src/core/half.js';
import { ProtoWriter } from '../../src/core/onnx/proto-writer.js';
import { ortBackend } from '../../src/core/backends/ort.js';
import { convNet, mlp, randomFloats } from '../helpers/quant-models.js';
import { assertClose } from '../helpers/assert-close.js';
import { CPU_TARGET } from '../../src/core/backends/ep-map.js';

const cpu = CPU_TARGET;

test('decode → encode reproduces a model byte for byte (MobileNetV2, 176 initializers)', () => {
  const bytes = buildMobilenetV2();
  const m = decodeModel(bytes);
  assert.equal(m.graph.nodes.length, 100);
  assert.equal(m.graph.initializers.length, 176);
  assert.deepEqual(encodeModel(m), bytes);
});

test('unknown fields, subgraph attributes and string tensors pass through unchanged', () => {
  // A node with a graph-valued attribute (as If has) and a string initializer, written by hand.
  const w = new ProtoWriter();
  w.int(1, 8);
  w.message(7, (g) => {
    g.message(1, (n) => {
      n.string(1, 'x').string(2, 'y').string(4, 'Identity');
      n.message(5, (a) => a.string(1, 'body').message(6, (sub) => sub.string(2, 'inner')).int(20, 5)); // GRAPH attribute
    });
    g.string(2, 'g');
    g.message(5, (t) => t.packedInts(1, [1]).int(2, 8).string(8, 's').bytes(6, new TextEncoder().encode('hello'))); // STRING tensor
    g.message(11, (v) => v.string(1, 'x').message(2, (tp) => tp.message(1, (tt) => tt.int(1, 1))));
    g.message(12, (v) => v.string(1, 'y').message(2, (tp) => tp.message(1, (tt) => tt.int(1, 1))));
  });
  w.message(8, (o) => o.int(2, 17));
  const bytes = w.finish();
  const m = decodeModel(bytes);
  assert.equal(m.graph.nodes[0]?.attributes?.[0]?.type, 'raw');
  assert.equal(m.graph.initializers[0]?.dataType, 'other');
  const again = decodeModel(encodeModel(m));
  assert.deepEqual(again.graph.nodes[0]?.attributes, m.graph.nodes[0]?.attributes);
  assert.deepEqual(again.graph.initializers[0]?.proto, m.graph.initializers[0]?.proto);
});

test('tensors stored in float_data / int64_data (not raw_data) decode to the same values', () => {
  const w = new ProtoWriter();
  w.int(1, 8);
  w.message(7, (g) => {
    g.message(1, (n) => n.string(1, 'x').string(1, 'w').string(2, 'y').string(4, 'Add'));
    g.string(2, 'g');
    g.message(5, (t) => t.packedInts(1, [3]).int(2, 1).string(8, 'w').packedFloats(4, [1.5, -2, 0.25]));
    g.message(5, (t) => t.packedInts(1, [2]).int(2, 7).string(8, 'shape').packedInts(7, [-1, 3]));
    g.message(11, (v) => v.string(1, 'x').message(2, (tp) => tp.message(1, (tt) => tt.int(1, 1))));
    g.message(12, (v) => v.string(1, 'y').message(2, (tp) => tp.message(1, (tt) => tt.int(1, 1))));
  });
  w.message(8, (o) => o.int(2, 17));
  const m = decodeModel(w.finish());
  assert.deepEqual([...tensorFloats(m.graph.initializers[0]!)], [1.5, -2, 0.25]);
  assert.deepEqual([...(m.graph.initializers[1]!.data as BigInt64Array)], [-1n, 3n]);
});

test('files that are not ONNX models are refused with OnnxFormatError', () => {
  assert.throws(() => decodeModel(new TextEncoder().encode('root:x:0:0:root:/root:/bin/bash\n')), OnnxFormatError);
  assert.throws(() => decodeModel(new Uint8Array([0x0a, 0xff, 0xff])), OnnxFormatError);
  assert.throws(() => decodeModel(new Uint8Array(0)), OnnxFormatError);
});

test('float16 conversion rounds to nearest even and saturates', () => {
  assert.equal(floatToHalf(1), 0x3c00);
  assert.equal(floatToHalf(-2), 0xc000);
  assert.equal(floatToHalf(65504), 0x7bff);
  assert.equal(floatToHalf(1e6), 0x7bff);
  assert.equal(floatToHalf(1 + 2 ** -11), 0x3c00); // halfway: ties to even
  assert.equal(floatToHalf(1 + 3 * 2 ** -11), 0x3c02);
  assert.equal(halfToFloat(floatToHalf(2 ** -20)), 2 ** -20); // subnormal
  assert.ok(Number.isNaN(halfToFloat(floatToHalf(NaN))));
});

test('external data: written beside the model, loadable by onnxruntime, read back lazily, copied on rewrite', async () => {
  const dir = mkdtempSync(join(os.tmpdir(), 'aivmm-extdata-'));
  const inline = decodeModel(mlp());
  const path = join(dir, 'm.onnx');
  const written = await writeModelFile(path, inline, { externalData: 'always' });
  assert.equal(written.dataPath, `${path}.data`);
  assert.deepEqual(readdirSync(dir).sort(), ['m.onnx', 'm.onnx.data']); // no temporary files left
  const back = await readModelFile(path);
  const external = back.model.graph.initializers.filter((t) => t.external);
  assert.ok(external.length > 0 && external.every((t) => t.data.byteLength === 0));
  assert.equal(back.bytes, written.bytes);
  // Rewriting elsewhere copies the external bytes (the source stays untouched).
  const dir2 = mkdtempSync(join(os.tmpdir(), 'aivmm-extdata2-'));
  const copy = await writeModelFile(join(dir2, 'copy.onnx'), back.model);
  assert.ok(copy.dataPath && existsSync(copy.dataPath));
  const feeds = { x: randomFloats([2, 4, 64], 3), x2: randomFloats([2, 64], 4) };
  const want = await (await ortBackend.load(mlp(), cpu)).run(feeds);
  for (const p of [path, join(dir2, 'copy.onnx')]) {
    const got = await (await ortBackend.load(p, cpu)).run(feeds);
    assertClose(got['y']!.data as Float32Array, want['y']!.data as Float32Array, { atol: 0, rtol: 0 });
    assertClose(got['z']!.data as Float32Array, want['z']!.data as Float32Array, { atol: 0, rtol: 0 });
  }
});

test('external data locations that leave the model directory are refused before anything is read', () => {
  const w = new ProtoWriter();
  w.int(1, 8);
  w.message(7, (g) => {
    g.message(1, (n) => n.string(1, 'x').string(1, 'w').string(2, 'y').string(4, 'Add'));
    g.string(2, 'g');
    g.message(5, (t) => {
      t.packedInts(1, [4]).int(2, 1).string(8, 'w');
      t.message(13, (e) => e.string(1, 'location').string(2, '../../etc/shadow'));
      t.int(14, 1);
    });
    g.message(11, (v) => v.string(1, 'x').message(2, (tp) => tp.message(1, (tt) => tt.int(1, 1))));
    g.message(12, (v) => v.string(1, 'y').message(2, (tp) => tp.message(1, (tt) => tt.int(1, 1))));
  });
  w.message(8, (o) => o.int(2, 17));
  assert.throws(() => decodeModel(w.finish(), { baseDir: '/tmp/models' }), /leaves the model's directory/);
});

test('a write that fails leaves neither a partial model nor temporary files', async () => {
  const dir = mkdtempSync(join(os.tmpdir(), 'aivmm-atomic-'));
  const m = decodeModel(convNet());
  const broken = { ...m, graph: { ...m.graph, initializers: [...m.graph.initializers, { name: 'bad', dataType: 'other' as const, dims: [1], data: new Uint8Array(0) }] } };
  writeFileSync(join(dir, 'keep.onnx'), 'previous good file');
  await assert.rejects(writeModelFile(join(dir, 'keep.onnx'), broken));
  assert.deepEqual(readdirSync(dir), ['keep.onnx']);
});
