#!/usr/bin/env node
// Server overhead of `aivmm serve` (issue #16, benchmark 1), side by side in one run:
//   - the same model run in-process through a session (the floor),
//   - the server with sessions in its own process (HTTP + validation + encoding only),
//   - the server as `aivmm serve` runs it: a worker lane per device (adds the process hop),
// at concurrency 1, JSON and binary tensors, tiny-convnet (1×3×32×32) and MobileNetV2 (1×3×224×224).
// Per row: client-observed p50/p99 (ms) and the server's own time outside queue and compute
// (the Server-Timing `overhead` field, µs). Needs `npm run build` (imports dist/).
// --grpc adds, for each server setup, KServe v2 gRPC rows (raw_input_contents in, raw_output_contents out,
// one grpc-js client channel; the server's overhead from the Server-Timing trailing metadata), beside the
// REST rows of the same server.
// Usage: node scripts/bench-serve-overhead.mjs [--iterations N] [--grpc] [--json out.json]
import { writeFile } from 'node:fs/promises';
import { CPU_TARGET } from '../dist/core/backends/registry.js';
import { embeddedModel } from '../dist/core/models/embedded.js';
import { DEFAULT_SETTINGS, settingsFor } from '../dist/core/serve/config.js';
import { InProcessExecutor } from '../dist/core/serve/executor.js';
import { ModelRegistry } from '../dist/core/serve/registry.js';
import { LaneExecutor } from '../dist/server/lane-executor.js';
import { startServer } from '../dist/server/start.js';
import { mkdtemp, rm } from 'node:fs/promises';
import { credentials, loadPackageDefinition } from '@grpc/grpc-js';
import { inferenceProto } from '../dist/server/grpc/proto.js';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const args = process.argv.slice(2);
const arg = (name, dflt) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : dflt;
};
const ITER = Number(arg('--iterations', '300'));
const GRPC = args.includes('--grpc');
const WARMUP = 30;

const pct = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
};

function inputOf(name) {
  const spec = embeddedModel(name).input;
  const dims = spec.shape.map((d) => (typeof d === 'number' ? d : 1));
  const n = dims.reduce((a, b) => a * b, 1);
  const data = new Float32Array(n);
  for (let i = 0; i < n; i++) data[i] = ((i * 2654435761) % 1000) / 1000 - 0.5;
  return { name: spec.name, dims, data, out: embeddedModel(name).output.name };
}

async function timeLoop(fn, iterations) {
  for (let i = 0; i < WARMUP; i++) await fn();
  computes.length = 0;
  const lat = [];
  const over = [];
  for (let i = 0; i < iterations; i++) {
    const t0 = performance.now();
    const o = await fn();
    lat.push(performance.now() - t0);
    if (o !== undefined) over.push(o);
  }
  return { p50: pct(lat, 50), p99: pct(lat, 99), computeP50: computes.length ? pct(computes, 50) : undefined, overheadP50us: over.length ? pct(over, 50) * 1000 : undefined, overheadP99us: over.length ? pct(over, 99) * 1000 : undefined };
}

const computes = [];
function overheadOf(res) {
  return overheadOfTiming(res.headers.get('server-timing') ?? '');
}
function overheadOfTiming(h) {
  const c = /compute;dur=([\d.]+)/.exec(h);
  if (c) computes.push(Number(c[1]));
  const m = /overhead;dur=([\d.]+)/.exec(h);
  return m ? Number(m[1]) : undefined;
}

async function serverRows(label, executor, models, dir) {
  const registry = new ModelRegistry({
    executorFor: async () => ({ executor, placement: { device: 'CPU', backend: 'ort-cpu', reason: 'bench' } }),
    defaults: settingsFor(DEFAULT_SETTINGS, {}),
  });
  for (const m of models) {
    const path = join(dir, `${m}.onnx`);
    await writeFile(path, embeddedModel(m).build());
    registry.add({ name: m, kind: 'file', path, settings: settingsFor(DEFAULT_SETTINGS, {}) });
    await registry.load(m);
  }
  const server = await startServer(registry, { host: '127.0.0.1', port: 0, ...(GRPC ? { grpcPort: 0 } : {}), maxBodyBytes: 64 << 20, requestTimeoutMs: 0, serverVersion: 'bench' }, { ready: true, closing: false });
  const pkg = GRPC ? loadPackageDefinition(inferenceProto()) : undefined;
  const client = pkg ? new pkg.inference.GRPCInferenceService(server.grpc.address, credentials.createInsecure(), { 'grpc.max_receive_message_length': -1, 'grpc.max_send_message_length': -1 }) : undefined;
  const rows = [];
  for (const m of models) {
    const x = inputOf(m);
    const iterations = m === 'tiny-convnet' ? ITER : Math.max(50, Math.round(ITER / 3));
    const jsonBody = JSON.stringify({ inputs: [{ name: x.name, shape: x.dims, datatype: 'FP32', data: Array.from(x.data) }] });
    rows.push({
      setup: label,
      model: m,
      encoding: 'json',
      ...(await timeLoop(async () => {
        const r = await fetch(`${server.url}/v2/models/${m}/infer`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: jsonBody });
        const j = await r.json();
        if (!j.outputs) throw new Error(JSON.stringify(j));
        return overheadOf(r);
      }, iterations)),
    });
    const header = Buffer.from(JSON.stringify({ inputs: [{ name: x.name, shape: x.dims, datatype: 'FP32', parameters: { binary_data_size: x.data.byteLength } }], outputs: [{ name: x.out, parameters: { binary_data: true } }] }));
    const binBody = Buffer.concat([header, Buffer.from(x.data.buffer)]);
    rows.push({
      setup: label,
      model: m,
      encoding: 'binary',
      ...(await timeLoop(async () => {
        const r = await fetch(`${server.url}/v2/models/${m}/infer`, { method: 'POST', headers: { 'content-type': 'application/octet-stream', 'inference-header-content-length': String(header.length) }, body: binBody });
        const b = await r.arrayBuffer();
        if (r.status !== 200 || b.byteLength === 0) throw new Error(`status ${r.status}`);
        return overheadOf(r);
      }, iterations)),
    });
    if (!client) continue;
    const grpcReq = { model_name: m, inputs: [{ name: x.name, datatype: 'FP32', shape: x.dims }], raw_input_contents: [Buffer.from(x.data.buffer)] };
    rows.push({
      setup: label,
      model: m,
      encoding: 'grpc raw',
      ...(await timeLoop(
        () =>
          new Promise((resolve, reject) => {
            let res;
            const call = client.ModelInfer(grpcReq, (err, r) => (err ? reject(err) : (res = r)));
            call.on('status', (st) => {
              if (st.code !== 0) return;
              if (!res?.raw_output_contents?.length) return reject(new Error('no raw_output_contents'));
              resolve(overheadOfTiming(String(st.metadata.get('server-timing')[0] ?? '')));
            });
          }),
        iterations,
      )),
    });
  }
  client?.close();
  await server.close(1000);
  await executor.close();
  return rows;
}

const models = ['tiny-convnet', 'mobilenetv2-seeded'];
const dir = await mkdtemp(join(tmpdir(), 'aivmm-bench-serve-'));
const rows = [];
try {
  // The floor: the same session, called in this process.
  const ex = new InProcessExecutor(CPU_TARGET);
  for (const m of models) {
    const x = inputOf(m);
    await ex.load(m, embeddedModel(m).build());
    const iterations = m === 'tiny-convnet' ? ITER : Math.max(50, Math.round(ITER / 3));
    rows.push({ setup: 'in-process session', model: m, encoding: '-', ...(await timeLoop(async () => void (await ex.run(m, { [x.name]: { type: 'float32', dims: x.dims, data: x.data } })), iterations)) });
  }
  await ex.close();
  rows.push(...(await serverRows('server, sessions in-process', new InProcessExecutor(CPU_TARGET), models, dir)));
  rows.push(...(await serverRows('server, worker lane (aivmm serve)', new LaneExecutor({ name: 'CPU ort-cpu', target: CPU_TARGET }), models, dir)));
  rows.push(...(await serverRows('server, thread lane (aivmm serve --lane thread)', new LaneExecutor({ name: 'CPU ort-cpu', target: CPU_TARGET, host: 'thread' }), models, dir)));
} finally {
  await rm(dir, { recursive: true, force: true });
}

const base = Object.fromEntries(rows.filter((r) => r.setup === 'in-process session').map((r) => [r.model, r.p50]));
const f = (v, d = 3) => (v === undefined ? '-' : v.toFixed(d));
console.log(`aivmm serve overhead, concurrency 1, ${ITER} iterations (MobileNetV2: ${Math.max(50, Math.round(ITER / 3))}), node ${process.version}`);
console.log('| setup | model | tensors | client p50 ms | client p99 ms | extra vs in-process p50 ms | compute p50 ms (Server-Timing) | server overhead p50 µs | p99 µs |');
console.log('|---|---|---|---|---|---|---|---|---|');
for (const r of rows) {
  console.log(`| ${r.setup} | ${r.model} | ${r.encoding} | ${f(r.p50)} | ${f(r.p99)} | ${r.setup === 'in-process session' ? '-' : f(r.p50 - base[r.model])} | ${f(r.computeP50)} | ${f(r.overheadP50us, 0)} | ${f(r.overheadP99us, 0)} |`);
}
const out = arg('--json');
if (out) await writeFile(out, `${JSON.stringify({ iterations: ITER, node: process.version, rows }, null, 2)}\n`);
