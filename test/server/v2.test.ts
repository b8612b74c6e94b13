/** KServe v2 REST against a real server and real sessions: metadata, JSON and binary inference, bad inputs. */
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { binaryBody, postJson, referenceRun, seeded, startTestServer, tmp, TINY, MLP, type TestServer } from './helpers.js';

let t: TestServer;
let cleanup: () => Promise<void>;
const N = 2 * 3 * 32 * 32;

before(async () => {
  const d = await tmp();
  cleanup = d.cleanup;
  await writeFile(join(d.dir, 'tiny.onnx'), TINY);
  await writeFile(join(d.dir, 'mlp.onnx'), MLP);
  t = await startTestServer({ models: [{ name: 'tiny', path: join(d.dir, 'tiny.onnx') }, { name: 'mlp', path: join(d.dir, 'mlp.onnx') }], server: { maxBodyBytes: 256 * 1024 } });
});
after(async () => {
  await t.close();
  await cleanup();
});

test('server metadata, health and readiness', async () => {
  const meta = (await (await fetch(`${t.url}/v2`)).json()) as { name: string; extensions: string[] };
  assert.equal(meta.name, 'aivmm');
  assert.ok(meta.extensions.includes('binary_tensor_data'));
  assert.equal((await fetch(`${t.url}/v2/health/live`)).status, 200);
  assert.equal((await fetch(`${t.url}/v2/health/ready`)).status, 200);
  assert.equal((await fetch(`${t.url}/v2/models/tiny/ready`)).status, 200);
  assert.equal((await fetch(`${t.url}/v2/models/tiny/versions/1/ready`)).status, 200);
  assert.equal((await fetch(`${t.url}/v2/models/tiny/versions/7/ready`)).status, 503);
  assert.equal((await fetch(`${t.url}/v2/models/nope/ready`)).status, 404);
});

test('model metadata shows symbolic dims as -1', async () => {
  const r = await fetch(`${t.url}/v2/models/tiny`);
  assert.equal(r.status, 200);
  assert.deepEqual(await r.json(), {
    name: 'tiny',
    versions: ['1'],
    platform: 'onnxruntime_onnx',
    inputs: [{ name: 'input', datatype: 'FP32', shape: [-1, 3, 32, 32] }],
    outputs: [{ name: 'probabilities', datatype: 'FP32', shape: [-1, 10] }],
  });
  assert.equal((await fetch(`${t.url}/v2/models/tiny/versions/1`)).status, 200);
  assert.equal((await fetch(`${t.url}/v2/models/tiny/versions/2`)).status, 404);
});

test('JSON inference (flat and nested data) equals the in-process session', async () => {
  const x = seeded(N);
  const ref = await referenceRun(TINY, { input: { type: 'float32', dims: [2, 3, 32, 32], data: x } });
  const r = await postJson(`${t.url}/v2/models/tiny/infer`, { id: 'req-1', inputs: [{ name: 'input', shape: [2, 3, 32, 32], datatype: 'FP32', data: Array.from(x) }] });
  assert.equal(r.status, 200, JSON.stringify(r.json));
  assert.equal(r.json.model_name, 'tiny');
  assert.equal(r.json.model_version, '1');
  assert.equal(r.json.id, 'req-1');
  const out = r.json.outputs[0];
  assert.deepEqual([out.name, out.datatype, out.shape], ['probabilities', 'FP32', [2, 10]]);
  assert.deepEqual(Float32Array.from(out.data), ref['probabilities']); // float32 → JSON number → float32 is exact
  assert.match(r.headers.get('server-timing') ?? '', /queue;dur=[\d.]+, compute;dur=[\d.]+, overhead;dur=[\d.]+/);

  const nested = [[...x.subarray(0, N / 2)], [...x.subarray(N / 2)]].map((img) => [0, 1, 2].map((c) => Array.from({ length: 32 }, (_, h) => img.slice(c * 1024 + h * 32, c * 1024 + h * 32 + 32))));
  const r2 = await postJson(`${t.url}/v2/models/tiny/infer`, { inputs: [{ name: 'input', shape: [2, 3, 32, 32], datatype: 'FP32', data: nested }] });
  assert.equal(r2.status, 200);
  assert.deepEqual(r2.json.outputs[0].data, out.data);
});

test('binary tensor extension: binary input and binary output, bit-exact with the in-process session', async () => {
  const x = seeded(N, 7);
  const ref = await referenceRun(TINY, { input: { type: 'float32', dims: [2, 3, 32, 32], data: x } });
  const header = { inputs: [{ name: 'input', shape: [2, 3, 32, 32], datatype: 'FP32', parameters: { binary_data_size: x.byteLength } }], outputs: [{ name: 'probabilities', parameters: { binary_data: true } }] };
  const { body, headerLength } = binaryBody(header, [new Uint8Array(x.buffer)]);
  const r = await fetch(`${t.url}/v2/models/tiny/infer`, { method: 'POST', headers: { 'content-type': 'application/octet-stream', 'inference-header-content-length': String(headerLength) }, body });
  assert.equal(r.status, 200);
  const hl = Number(r.headers.get('inference-header-content-length'));
  const buf = Buffer.from(await r.arrayBuffer());
  const head = JSON.parse(buf.subarray(0, hl).toString()) as { outputs: { name: string; shape: number[]; parameters: { binary_data_size: number } }[] };
  assert.deepEqual(head.outputs[0]?.shape, [2, 10]);
  assert.equal(head.outputs[0]?.parameters.binary_data_size, 2 * 10 * 4);
  const got = new Float32Array(buf.buffer.slice(buf.byteOffset + hl, buf.byteOffset + buf.length));
  assert.deepEqual(got, ref['probabilities']);

  // binary_data_output on the request, JSON input
  const r2 = await postJson(`${t.url}/v2/models/mlp/infer`, { parameters: { binary_data_output: true }, inputs: [{ name: 'x', shape: [1, 16], datatype: 'FP32', data: Array.from(seeded(16)) }] });
  assert.equal(r2.status, 200);
  const mlpRef = await referenceRun(MLP, { x: { type: 'float32', dims: [1, 16], data: seeded(16) } });
  const r3 = await fetch(`${t.url}/v2/models/mlp/infer`, { method: 'POST', body: JSON.stringify({ parameters: { binary_data_output: true }, inputs: [{ name: 'x', shape: [1, 16], datatype: 'FP32', data: Array.from(seeded(16)) }] }) });
  const b3 = Buffer.from(await r3.arrayBuffer());
  const h3 = Number(r3.headers.get('inference-header-content-length'));
  assert.deepEqual(new Float32Array(b3.buffer.slice(b3.byteOffset + h3, b3.byteOffset + b3.length)), mlpRef['y']);
});

test('a wrong shape is a 400 naming the expected shape; dtype, size, names and JSON are checked too', async () => {
  const infer = (inputs: unknown, extra: Record<string, unknown> = {}) => postJson(`${t.url}/v2/models/tiny/infer`, { inputs, ...extra });
  const good = { name: 'input', shape: [1, 3, 32, 32], datatype: 'FP32', data: Array.from(seeded(3072)) };
  let r = await infer([{ ...good, shape: [1, 3, 224, 224] }]);
  assert.equal(r.status, 400);
  assert.match(r.json.error, /shape \[1,3,224,224\]; the model expects \[-1,3,32,32\]/);
  r = await infer([{ ...good, shape: [3, 32, 32] }]);
  assert.equal(r.status, 400);
  assert.match(r.json.error, /expects \[-1,3,32,32\]/);
  r = await infer([{ ...good, datatype: 'FP64' }]);
  assert.equal(r.status, 400);
  assert.match(r.json.error, /datatype FP64; the model expects FP32/);
  r = await infer([{ ...good, data: [1, 2, 3] }]);
  assert.equal(r.status, 400);
  assert.match(r.json.error, /has 3 elements; shape \[1,3,32,32\] needs 3072/);
  r = await infer([{ ...good, data: ['a', ...good.data.slice(1)] }]);
  assert.equal(r.status, 400);
  assert.match(r.json.error, /element 0 is "a", expected a number/);
  r = await infer([{ ...good, name: 'pixels' }]);
  assert.equal(r.status, 400);
  assert.match(r.json.error, /unexpected input 'pixels'.*|unexpected input 'pixels'/);
  r = await infer([good], { outputs: [{ name: 'logits' }] });
  assert.equal(r.status, 400);
  assert.match(r.json.error, /unknown output 'logits'/);
  r = await infer([{ ...good, shape: ['1', 3, 32, 32] }]);
  assert.equal(r.status, 400);
  r = await infer([]);
  assert.equal(r.status, 400);
  r = await postJson(`${t.url}/v2/models/tiny/infer`, '{"inputs": [');
  assert.equal(r.status, 400);
  assert.match(r.json.error, /malformed JSON/);
  // binary size that does not match the shape, and bytes no input claims
  const x = seeded(3072);
  const hdr = (size: number) => ({ inputs: [{ name: 'input', shape: [1, 3, 32, 32], datatype: 'FP32', parameters: { binary_data_size: size } }] });
  for (const [h, tensors, re] of [
    [hdr(100), [new Uint8Array(x.buffer)], /binary_data_size is 100 bytes; shape \[1,3,32,32\] of FP32 needs 12288/],
    [hdr(12288), [new Uint8Array(x.buffer), new Uint8Array(8)], /8 binary bytes that no input claims/],
    [hdr(12288), [new Uint8Array(100)], /100 more binary bytes, 12288 announced/],
  ] as const) {
    const { body, headerLength } = binaryBody(h, [...tensors]);
    const rr = await fetch(`${t.url}/v2/models/tiny/infer`, { method: 'POST', headers: { 'inference-header-content-length': String(headerLength) }, body });
    assert.equal(rr.status, 400);
    assert.match(((await rr.json()) as { error: string }).error, re);
  }
  const bad = await fetch(`${t.url}/v2/models/tiny/infer`, { method: 'POST', headers: { 'inference-header-content-length': '99999' }, body: '{}' });
  assert.equal(bad.status, 400);
  // the server still answers normally afterwards
  assert.equal((await infer([good])).status, 200);
});

test('unknown models are 404, path-like names 400, oversized bodies 413, unknown routes 404 — all as {"error"}', async () => {
  const good = { inputs: [{ name: 'input', shape: [1, 3, 32, 32], datatype: 'FP32', data: Array.from(seeded(3072)) }] };
  let r = await postJson(`${t.url}/v2/models/resnet/infer`, good);
  assert.equal(r.status, 404);
  assert.match(r.json.error, /unknown model 'resnet'/);
  for (const name of ['..', '..%2F..%2Fetc%2Fpasswd', '%2Fetc%2Fpasswd', 'a%5Cb']) {
    r = await postJson(`${t.url}/v2/models/${name}/infer`, good);
    assert.ok(r.status === 400 || r.status === 404, `${name}: ${r.status}`);
    assert.equal(typeof r.json.error, 'string', name);
  }
  r = await postJson(`${t.url}/v2/models/..%2Fx/infer`, good);
  assert.equal(r.status, 400);
  assert.match(r.json.error, /invalid model name/);
  const big = { inputs: [{ name: 'input', shape: [32, 3, 32, 32], datatype: 'FP32', data: Array.from(seeded(32 * 3072)) }] };
  r = await postJson(`${t.url}/v2/models/tiny/infer`, big);
  assert.equal(r.status, 413);
  assert.match(r.json.error, /larger than the server accepts/);
  r = await postJson(`${t.url}/v2/nothing`, {});
  assert.equal(r.status, 404);
  assert.equal(typeof r.json.error, 'string');
});

test('parameters.timeout (µs) past before the request runs is a 504', async () => {
  const r = await postJson(`${t.url}/v2/models/tiny/infer`, { parameters: { timeout: 1 }, inputs: [{ name: 'input', shape: [1, 3, 32, 32], datatype: 'FP32', data: Array.from(seeded(3072)) }] });
  assert.equal(r.status, 504);
  assert.match(r.json.error, /deadline/);
});

test('statistics count successes and failures', async () => {
  const r = await fetch(`${t.url}/v2/models/tiny/stats`);
  const s = (await r.json()) as { model_stats: { name: string; inference_stats: { success: number; timedOut: number } }[] };
  assert.equal(s.model_stats[0]?.name, 'tiny');
  assert.ok((s.model_stats[0]?.inference_stats.success ?? 0) >= 3);
  assert.ok((s.model_stats[0]?.inference_stats.timedOut ?? 0) >= 1);
});

test('/openapi.json documents every route', async () => {
  const doc = (await (await fetch(`${t.url}/openapi.json`)).json()) as { openapi: string; paths: Record<string, Record<string, { summary: string; requestBody?: unknown }>> };
  assert.equal(doc.openapi, '3.1.0');
  for (const [p, m] of [
    ['/v2', 'get'],
    ['/v2/health/ready', 'get'],
    ['/v2/models/{name}', 'get'],
    ['/v2/models/{name}/versions/{version}/infer', 'post'],
    ['/v2/repository/index', 'post'],
    ['/v2/repository/models/{name}/load', 'post'],
    ['/v1/placement', 'get'],
    ['/v1/events', 'get'],
  ] as const) {
    assert.ok(doc.paths[p]?.[m]?.summary, `${m} ${p}`);
  }
  assert.ok(doc.paths['/v2/models/{name}/infer']?.['post']?.requestBody);
});
