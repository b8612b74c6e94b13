/**
 * Binary-extension bodies read into the server's shared buffer pool (server/app.ts readBody) and batches
 * joined in it (batcher.ts): buffers are reused request after request, so a buffer handed back too early
 * would show as one request's answer computed from another's data. The model doubles its input, so every
 * output element names the input it came from: each answer must be exactly twice its own request, through
 * sessions in this process (which read the body in place) and through a thread lane (an unbatched body moves
 * to the lane's thread; a batched one is copied into the batch and reused), with JSON headers of every length
 * modulo 8 (the tensor bytes' alignment).
 */
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { CPU_TARGET } from '../../src/core/backends/registry.js';
import { BufferPool } from '../../src/core/buffer-pool.js';
import { GraphBuilder } from '../../src/core/onnx/builder.js';
import { encodeModel } from '../../src/core/onnx/writer.js';
import type { ModelExecutor } from '../../src/core/serve/executor.js';
import { LaneExecutor } from '../../src/server/lane-executor.js';
import { startTestServer, tmp } from './helpers.js';

const SHAPE = [3, 96, 96]; // 108 KiB of FP32 a row: above the pool's 64 KiB floor
const ROW = SHAPE.reduce((a, b) => a * b, 1);

function doubler(): Uint8Array {
  const b = new GraphBuilder(3);
  const x = b.input({ name: 'x', dataType: 'float32', shape: ['batch', ...SHAPE] });
  const two = b.constant('two', [1], Float32Array.of(2));
  b.op('Mul', [x, two], [], 'y');
  b.output({ name: 'y', dataType: 'float32', shape: ['batch', ...SHAPE] });
  return encodeModel({ producerName: 'test', producerVersion: '1', graph: b.graph('doubler') });
}

function rowData(seed: number, rows = 1): Float32Array {
  const a = new Float32Array(ROW * rows);
  for (let i = 0; i < a.length; i++) a[i] = seed + i / a.length;
  return a;
}

/** One binary-extension request; `pad` lengthens the JSON header (its id), so the tensor bytes start at every offset modulo 8. */
async function infer(url: string, data: Float32Array, rows: number, pad: number): Promise<Float32Array> {
  const header = Buffer.from(
    JSON.stringify({
      id: 'r'.repeat(pad),
      inputs: [{ name: 'x', shape: [rows, ...SHAPE], datatype: 'FP32', parameters: { binary_data_size: data.byteLength } }],
      outputs: [{ name: 'y', parameters: { binary_data: true } }],
    }),
  );
  const res = await fetch(`${url}/v2/models/m/infer`, {
    method: 'POST',
    headers: { 'content-type': 'application/octet-stream', 'inference-header-content-length': String(header.length) },
    body: Buffer.concat([header, Buffer.from(data.buffer, data.byteOffset, data.byteLength)]),
  });
  const body = Buffer.from(await res.arrayBuffer());
  assert.equal(res.status, 200, body.toString().slice(0, 300));
  const n = Number(res.headers.get('inference-header-content-length'));
  const out = body.subarray(n);
  return new Float32Array(out.buffer.slice(out.byteOffset, out.byteOffset + out.byteLength));
}

for (const host of ['in-process', 'thread'] as const) {
  for (const batching of [false, true]) {
    test(
      `pooled request bodies (${host}${batching ? ', batching' : ''}): every answer is computed from its own request, buffers reused`,
      { timeout: 90_000 },
      async () => {
        const d = await tmp();
        await writeFile(join(d.dir, 'm.onnx'), doubler());
        const pool = new BufferPool();
        const lane = host === 'thread' ? new LaneExecutor({ name: 'CPU ort-cpu', target: CPU_TARGET, host: 'thread' }) : undefined;
        const executor: ModelExecutor | undefined = lane
          ? { load: (i, m, o) => lane.load(i, m, o), run: (i, f) => lane.run(i, f), unload: (i) => lane.unload(i), close: () => lane.close() }
          : undefined;
        const t = await startTestServer({
          models: [{ name: 'm', path: join(d.dir, 'm.onnx'), settings: batching ? { batching: { maxBatchSize: 8, maxQueueDelayMs: 20 } } : {} }],
          server: { buffers: pool },
          ...(executor ? { executor } : {}),
        });
        try {
          for (let round = 0; round < 3; round++) {
            const jobs = Array.from({ length: 16 }, (_, k) => {
              const rows = k % 5 === 4 ? 2 : 1;
              const data = rowData(round * 100 + k, rows);
              return infer(t.url, data, rows, k % 8).then((y) => {
                assert.equal(y.length, data.length, `request ${round}/${k}`);
                for (let i = 0; i < data.length; i++)
                  if (y[i] !== 2 * data[i]!) assert.fail(`request ${round}/${k}: y[${i}] = ${y[i]}, want ${2 * data[i]!} (another request's data?)`);
              });
            });
            await Promise.all(jobs);
          }
          assert.equal(pool.made + pool.reused, 48, 'every body was read into the pool');
          if (host === 'in-process') assert.ok(pool.made <= 40 && pool.reused > 0, `bodies come back for reuse: made ${pool.made}, reused ${pool.reused}`);
          else if (batching) assert.ok(pool.reused > 0, `batched bodies (copied into their batch) come back: made ${pool.made}, reused ${pool.reused}`);
          else assert.equal(pool.reused, 0, 'unbatched bodies moved to the lane thread with their tensors');
        } finally {
          await t.close();
          await d.cleanup();
        }
      },
    );
  }
}

/** A raw HTTP/1.1 request on a fresh socket; resolves with the status line and body. */
function raw(url: string, head: string, body: Buffer, end = true): Promise<{ status: number; body: string }> {
  const { port } = new URL(url);
  return new Promise((resolve, reject) => {
    const s = connect(Number(port), '127.0.0.1');
    let got = '';
    s.on('data', (c) => (got += c.toString('latin1')));
    s.on('error', reject);
    s.on('close', () => resolve({ status: Number(/^HTTP\/1\.1 (\d+)/.exec(got)?.[1] ?? 0), body: got.split('\r\n\r\n').slice(1).join('\r\n\r\n') }));
    s.write(head);
    s.write(body);
    if (end) s.end();
    else setTimeout(() => s.end(), 200);
  });
}

test(
  'pooled request bodies: a short body is a 400, a body past --max-body a 413, a bad header length a 400, all as JSON; the server goes on',
  { timeout: 60_000 },
  async () => {
    const d = await tmp();
    await writeFile(join(d.dir, 'm.onnx'), doubler());
    const pool = new BufferPool();
    const t = await startTestServer({ models: [{ name: 'm', path: join(d.dir, 'm.onnx') }], server: { buffers: pool, maxBodyBytes: 512 * 1024 } });
    try {
      const data = rowData(7);
      const header = Buffer.from(
        JSON.stringify({ inputs: [{ name: 'x', shape: [1, ...SHAPE], datatype: 'FP32', parameters: { binary_data_size: data.byteLength } }] }),
      );
      const body = Buffer.concat([header, Buffer.from(data.buffer)]);
      const head = (len: number, hl = header.length): string =>
        `POST /v2/models/m/infer HTTP/1.1\r\nhost: x\r\ncontent-type: application/octet-stream\r\ninference-header-content-length: ${hl}\r\ncontent-length: ${len}\r\nconnection: close\r\n\r\n`;
      // a client that announces a body and sends none of it holds no buffer
      const before = pool.made + pool.reused;
      const none = await raw(t.url, head(body.length), Buffer.alloc(0));
      assert.ok(none.status === 400 || none.status === 0, `no body: ${none.status} ${none.body}`);
      assert.equal(pool.made + pool.reused, before, 'no buffer taken before the first bytes arrive');
      // the client announces more than it sends, then closes its side
      const short = await raw(t.url, head(body.length + 1000), body);
      assert.ok(short.status === 400 || short.status === 0, `short body: ${short.status} ${short.body}`);
      const big = Buffer.concat([body, Buffer.alloc(512 * 1024)]);
      const tooBig = await raw(t.url, head(big.length), big);
      assert.equal(tooBig.status, 413, tooBig.body);
      assert.match(tooBig.body, /"code":"USAGE"/);
      const badHeader = await raw(t.url, head(body.length, body.length + 5), body);
      assert.equal(badHeader.status, 400, badHeader.body);
      assert.match(badHeader.body, /Inference-Header-Content-Length is \d+, the body has \d+ bytes/);
      // and a good request still gets its own answer
      const y = await infer(t.url, data, 1, 3);
      for (let i = 0; i < data.length; i += 997) assert.equal(y[i], 2 * data[i]!);
    } finally {
      await t.close();
      await d.cleanup();
    }
  },
);

test('BufferPool: size classes, reuse, repeats and foreign or detached buffers ignored, the retained cap', () => {
  const pool = new BufferPool({ maxRetainedBytes: 256 * 1024, granule: 64 * 1024, minBytes: 64 * 1024 });
  const a = pool.take(100_000);
  assert.equal(a.byteLength, 128 * 1024); // rounded up to the class
  assert.equal(pool.take(10).byteLength, 10); // below the floor: fresh, exact
  pool.give(a);
  pool.give(a); // a repeat is kept once
  assert.equal(pool.retainedBytes, 128 * 1024);
  assert.equal(pool.take(120_000), a); // same class: the same buffer
  assert.equal(pool.retainedBytes, 0);
  pool.give(new ArrayBuffer(128 * 1024)); // not made here
  assert.equal(pool.retainedBytes, 0);
  const b = pool.take(128 * 1024);
  structuredClone(b, { transfer: [b] }); // detached
  pool.give(b);
  assert.equal(pool.retainedBytes, 0);
  const big = [pool.take(200 * 1024), pool.take(200 * 1024)];
  big.forEach((x) => pool.give(x));
  assert.equal(pool.retainedBytes, 256 * 1024, 'past the cap a buffer is left to the collector');
  assert.equal(pool.made, 4);
  assert.equal(pool.reused, 1);
});
