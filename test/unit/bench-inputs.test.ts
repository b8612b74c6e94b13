/** Bench inputs: shapes from metadata + --shape/--batch, seeded data in valid ranges, .npy and JSON files. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import os from 'node:os';
import { parseNpy, parseShape, planShapes, randomTensor, readInputFiles } from '../../src/core/bench/inputs.js';
import { UsageError } from '../../src/core/errors.js';
import type { TensorSpec } from '../../src/core/backends/types.js';

const image: TensorSpec = { name: 'input', type: 'float32', shape: ['batch_size', 3, 224, 224] };
const text: TensorSpec[] = [
  { name: 'input_ids', type: 'int64', shape: ['batch', 'sequence_length'] },
  { name: 'attention_mask', type: 'int64', shape: ['batch', 'sequence_length'] },
  { name: 'token_type_ids', type: 'int64', shape: ['batch', 'sequence_length'] },
];

test('--shape parsing: name=1x3x224x224, bare dims, commas; bad values are usage errors', () => {
  assert.deepEqual(parseShape('input=1x3x224x224'), { name: 'input', dims: [1, 3, 224, 224] });
  assert.deepEqual(parseShape('8x128'), { dims: [8, 128] });
  assert.deepEqual(parseShape('ids=1,64'), { name: 'ids', dims: [1, 64] });
  for (const bad of ['input=1x0', 'x=abc', 'input=1x-3', 'input=']) assert.throws(() => parseShape(bad), UsageError, bad);
});

test('shapes: symbolic batch from --batch, sequence names default to 128, overrides win, fixed dims are kept', () => {
  assert.deepEqual(planShapes([image], [], 8), { input: [8, 3, 224, 224] });
  assert.deepEqual(planShapes([image], [], undefined), { input: [1, 3, 224, 224] });
  assert.deepEqual(planShapes(text, [], 2)['input_ids'], [2, 128]);
  assert.deepEqual(planShapes(text, [{ name: 'input_ids', dims: [1, 16] }], undefined)['input_ids'], [1, 16]);
  assert.deepEqual(planShapes([image], [{ dims: [2, 3, 224, 224] }], undefined), { input: [2, 3, 224, 224] });
});

test('shapes: unknown dynamic dims, fixed batches, wrong ranks and unknown names are clear usage errors', () => {
  const odd: TensorSpec = { name: 'x', type: 'float32', shape: ['n', 'width'] };
  assert.throws(() => planShapes([odd], [], 1), (e: Error) => e instanceof UsageError && /dynamic dimension 'width'/.test(e.message) && /--shape x=1xN/.test((e as UsageError).hint ?? ''));
  const fixed: TensorSpec = { name: 'x', type: 'float32', shape: [1, 16] };
  assert.throws(() => planShapes([fixed], [], 8), /fixed batch of 1/);
  assert.throws(() => planShapes([image], [{ name: 'input', dims: [1, 3] }], undefined), /has 2 dimensions/);
  assert.throws(() => planShapes([image], [{ name: 'pixels', dims: [1, 3, 2, 2] }], undefined), /does not have/);
  assert.throws(() => planShapes([image], [{ name: 'input', dims: [1, 4, 224, 224] }], undefined), /changes fixed dimension 1/);
  assert.throws(() => planShapes(text, [{ dims: [1, 8] }], undefined), /needs an input name/);
});

test('random data: seeded, floats in [-1, 1), masks all ones, token ids in [0, 1000), positions count up', () => {
  const a = randomTensor(image, [1, 3, 4, 4], 42);
  assert.deepEqual(randomTensor(image, [1, 3, 4, 4], 42).data, a.data);
  assert.notDeepEqual(randomTensor(image, [1, 3, 4, 4], 43).data, a.data);
  assert.ok(Array.from(a.data as Float32Array).every((v) => v >= -1 && v < 1));
  const ids = randomTensor(text[0] as TensorSpec, [2, 64], 1).data as BigInt64Array;
  assert.ok(Array.from(ids).every((v) => v >= 0n && v < 1000n));
  assert.ok(new Set(Array.from(ids)).size > 10);
  assert.ok(Array.from(randomTensor(text[1] as TensorSpec, [2, 64], 1).data as BigInt64Array).every((v) => v === 1n));
  assert.ok(Array.from(randomTensor(text[2] as TensorSpec, [2, 64], 1).data as BigInt64Array).every((v) => v === 0n));
  const pos = randomTensor({ name: 'position_ids', type: 'int64', shape: [1, 'seq'] }, [1, 5], 1).data as BigInt64Array;
  assert.deepEqual(Array.from(pos), [0n, 1n, 2n, 3n, 4n]);
  const half = randomTensor({ name: 'x', type: 'float16', shape: [4] }, [4], 1);
  assert.ok(half.data instanceof Uint16Array);
});

/** A .npy file as numpy.save writes it (format 1.0). */
function npy(descr: string, shape: number[], body: ArrayBufferView): Uint8Array {
  let header = `{'descr': '${descr}', 'fortran_order': False, 'shape': (${shape.join(', ')}${shape.length === 1 ? ',' : ''}), }`;
  const total = 10 + header.length + 1;
  header += ' '.repeat((64 - (total % 64)) % 64) + '\n';
  const out = new Uint8Array(10 + header.length + body.byteLength);
  out.set([0x93, ...new TextEncoder().encode('NUMPY'), 1, 0]);
  new DataView(out.buffer).setUint16(8, header.length, true);
  out.set(new TextEncoder().encode(header), 10);
  out.set(new Uint8Array(body.buffer, body.byteOffset, body.byteLength), 10 + header.length);
  return out;
}

test('.npy: float32 and int64 read with their shapes; corrupt or unsupported files are usage errors', () => {
  const f = parseNpy(npy('<f4', [2, 3], new Float32Array([1, 2, 3, 4, 5, 6])), 'a.npy');
  assert.deepEqual(f.dims, [2, 3]);
  assert.equal(f.type, 'float32');
  assert.deepEqual(Array.from(f.data as Float32Array), [1, 2, 3, 4, 5, 6]);
  const i = parseNpy(npy('<i8', [3], new BigInt64Array([7n, 8n, 9n])), 'b.npy');
  assert.deepEqual(Array.from(i.data as BigInt64Array), [7n, 8n, 9n]);
  assert.throws(() => parseNpy(new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]), 'c.npy'), /not a readable .npy file: no NUMPY magic/);
  assert.throws(() => parseNpy(npy('<c16', [1], new Float64Array([1, 2])), 'd.npy'), /dtype <c16 is not supported/);
  assert.throws(() => parseNpy(npy('<f4', [4], new Float32Array([1])), 'e.npy'), /4 data bytes for 4 elements of <f4/);
});

test('input files: .npy for the only input, JSON naming inputs; wrong names and types are refused', async () => {
  const dir = await mkdtemp(join(os.tmpdir(), 'aivmm-inputs-'));
  const p = join(dir, 'x.npy');
  await writeFile(p, npy('<f4', [1, 3, 2, 2], new Float32Array(12).fill(0.5)));
  const got = await readInputFiles([{ path: p }], [image]);
  assert.deepEqual(got['input']?.dims, [1, 3, 2, 2]);
  const j = join(dir, 'in.json');
  await writeFile(j, JSON.stringify({ input_ids: [[1, 2, 3]], attention_mask: { dims: [1, 3], data: [1, 1, 0] } }));
  const fromJson = await readInputFiles([{ path: j }], text);
  assert.deepEqual(Array.from(fromJson['input_ids']?.data as BigInt64Array), [1n, 2n, 3n]);
  assert.deepEqual(fromJson['attention_mask']?.dims, [1, 3]);
  await assert.rejects(readInputFiles([{ name: 'nope', path: p }], [image]), /does not have/);
  await assert.rejects(readInputFiles([{ name: 'input_ids', path: p }], text), /holds float32; input 'input_ids' takes int64/);
  await assert.rejects(readInputFiles([{ path: join(dir, 'missing.npy') }], [image]), /cannot read input data/);
  await writeFile(j, '{"input_ids": [[1, 2], [3]]}');
  await assert.rejects(readInputFiles([{ path: j }], text), /has 3 values for dims \[2, 2\]/);
});

test('token ids stay below the vocabulary read from the model (the Gather of input_ids on its embedding)', async () => {
  const { GraphBuilder } = await import('../../src/core/onnx/builder.js');
  const { encodeModel } = await import('../../src/core/onnx/writer.js');
  const { decodeModel } = await import('../../src/core/onnx/reader.js');
  const { vocabularySizes } = await import('../../src/core/bench/inputs.js');
  const b = new GraphBuilder(1);
  const ids = b.input({ name: 'input_ids', dataType: 'int64', shape: ['batch', 'sequence'] });
  b.input({ name: 'attention_mask', dataType: 'int64', shape: ['batch', 'sequence'] });
  const emb = b.constant('embed_tokens.weight', [37, 4], new Float32Array(37 * 4).fill(0.5));
  const cast = b.op('Cast', [ids], [{ name: 'to', type: 'int', value: 7 }]);
  b.op('Gather', [emb, cast], [], 'hidden');
  b.output({ name: 'hidden', dataType: 'float32', shape: ['batch', 'sequence', 4] });
  const model = decodeModel(encodeModel({ graph: b.graph('tiny-vocab') }));
  assert.deepEqual(vocabularySizes(model), { input_ids: 37 });
  const t = randomTensor({ name: 'input_ids', type: 'int64', shape: [1, 512] }, [1, 512], 3, { vocabSize: 37 });
  const values = Array.from(t.data as BigInt64Array, Number);
  assert.ok(Math.max(...values) < 37 && Math.min(...values) >= 0);
  assert.ok(new Set(values).size > 20, 'spread over the vocabulary');
  // unknown vocabulary: below 1000, as before
  const u = Array.from(randomTensor({ name: 'input_ids', type: 'int64', shape: [1, 512] }, [1, 512], 3).data as BigInt64Array, Number);
  assert.ok(Math.max(...u) >= 37 && Math.max(...u) < 1000);
});
