/**
 * `aivmm serve` as a real process (bin/aivmm.js → dist/): the ready line with --json (port 0), health,
 * inference through the worker lane, SIGTERM → exit 0; refusals with their exit codes.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Ajv } from 'ajv';
import { BIN, spawnCli } from '../helpers/run-cli.js';
import { postJson, seeded, spawnServe, tmp } from './helpers.js';

const schema = (name: string): object => JSON.parse(readFileSync(fileURLToPath(new URL(`../../docs/schemas/${name}`, import.meta.url)), 'utf8')) as object;
const ajv = new Ajv({ allErrors: true, strict: false });
const validateServe = ajv.compile(schema('serve-1.schema.json'));
const validateIndex = ajv.compile(schema('serve-index-1.schema.json'));
const validateError = ajv.compile(schema('error-1.schema.json'));
const validatePs = ajv.compile(schema('ps-1.schema.json'));

test('aivmm serve --port 0 --json: one ready line, health, inference, SIGTERM exits 0', { timeout: 120_000 }, async () => {
  const { dir, cleanup } = await tmp();
  const serve = spawnServe(BIN, ['tiny-convnet', '--port', '0', '--json'], { ...process.env, AIVMM_CACHE_DIR: dir });
  const { child, exited } = serve;
  try {
    const line = await serve.ready;
    const doc = JSON.parse(line) as { data: { url: string; port: number; models: { name: string; state: string }[] } };
    assert.ok(validateServe(doc), ajv.errorsText(validateServe.errors));
    assert.ok(doc.data.port > 0);
    assert.deepEqual(doc.data.models.map((m) => [m.name, m.state]), [['tiny-convnet', 'READY']]);
    const url = doc.data.url;
    assert.equal((await fetch(`${url}/v2/health/ready`)).status, 200);
    const r = await postJson(`${url}/v2/models/tiny-convnet/infer`, { inputs: [{ name: 'input', shape: [1, 3, 32, 32], datatype: 'FP32', data: Array.from(seeded(3072)) }] });
    assert.equal(r.status, 200);
    assert.deepEqual(r.json.outputs[0].shape, [1, 10]);
    const idx = await (await fetch(`${url}/v2/repository/index`)).json();
    assert.ok(validateIndex(idx), ajv.errorsText(validateIndex.errors));
    const placement = (await (await fetch(`${url}/v1/placement`)).json()) as { models: { placement: { device: string; backend: string }[] }[] };
    assert.deepEqual([placement.models[0]?.placement[0]?.device, placement.models[0]?.placement[0]?.backend], ['CPU', 'ort-cpu']);
    // aivmm ps against it (a real process talking to the real server)
    const ps = spawnCli(['ps', '--server', url, '--json']);
    assert.equal(ps.code, 0, ps.stderr);
    const psDoc = JSON.parse(ps.stdout) as { data: { models: { name: string; queue?: { success: number } }[]; lanes: { pid?: number; rssBytes?: number }[] } };
    assert.ok(validatePs(psDoc), ajv.errorsText(validatePs.errors));
    assert.equal(psDoc.data.models[0]?.name, 'tiny-convnet');
    assert.ok((psDoc.data.models[0]?.queue?.success ?? 0) >= 1);
    assert.ok((psDoc.data.lanes[0]?.rssBytes ?? 0) > 0, 'the lane reports its memory');
    const plain = spawnCli(['ps', '--server', url]);
    assert.match(plain.stdout, /tiny-convnet\s+1\s+READY\s+CPU ort-cpu/);
    child.kill('SIGTERM');
    assert.equal(await exited, 0, serve.stderr());
    assert.match(serve.stderr(), /SIGTERM, draining/);
  } finally {
    child.kill('SIGKILL');
    await cleanup();
  }
});

test('aivmm serve refuses a non-loopback host without an API key (exit 2) and a bad config (exit 3)', async () => {
  const { dir, cleanup } = await tmp();
  try {
    let r = spawnCli(['serve', 'tiny-convnet', '--host', '0.0.0.0', '--port', '0', '--json'], { AIVMM_CACHE_DIR: dir, AIVMM_API_KEY: '' });
    assert.equal(r.code, 2, r.stderr);
    const e = JSON.parse(r.stdout) as { error: { message: string; hint: string } };
    assert.ok(validateError(e), ajv.errorsText(validateError.errors));
    assert.match(e.error.message, /without an API key/);
    const cfg = join(dir, 'aivmm.yaml');
    await writeFile(cfg, 'models:\n  tiny:\n    model: tiny-convnet\n    max_qeue: 3\n');
    r = spawnCli(['serve', '--config', cfg, '--port', '0'], { AIVMM_CACHE_DIR: dir });
    assert.equal(r.code, 3, r.stderr);
    assert.match(r.stderr, /models\.tiny: unknown key 'max_qeue'/);
    r = spawnCli(['serve', 'no-such-model.onnx', '--port', '0'], { AIVMM_CACHE_DIR: dir });
    assert.equal(r.code, 5, r.stderr);
    r = spawnCli(['ps', '--server', 'http://127.0.0.1:9']);
    assert.equal(r.code, 4, r.stderr);
    assert.match(r.stderr, /no aivmm server answers at http:\/\/127\.0\.0\.1:9/);
  } finally {
    await cleanup();
  }
});

test('aivmm serve --lane thread: the lane is a worker thread of the server (same pid), inference answers; a bad --lane is exit 2, a bad server.lane exit 3', { timeout: 120_000 }, async () => {
  const { dir, cleanup } = await tmp();
  const serve = spawnServe(BIN, ['tiny-convnet', '--lane', 'thread', '--port', '0', '--json'], { ...process.env, AIVMM_CACHE_DIR: dir });
  const { child, exited } = serve;
  try {
    const doc = JSON.parse(await serve.ready) as { data: { url: string; pid: number } };
    const url = doc.data.url;
    const r = await postJson(`${url}/v2/models/tiny-convnet/infer`, { inputs: [{ name: 'input', shape: [1, 3, 32, 32], datatype: 'FP32', data: Array.from(seeded(3072)) }] });
    assert.equal(r.status, 200, JSON.stringify(r.json));
    assert.deepEqual(r.json.outputs[0].shape, [1, 10]);
    const ps = spawnCli(['ps', '--server', url, '--json']);
    assert.equal(ps.code, 0, ps.stderr);
    const lanes = (JSON.parse(ps.stdout) as { data: { lanes: { pid?: number }[] } }).data.lanes;
    assert.equal(lanes[0]?.pid, doc.data.pid, 'a thread lane lives in the server process');
    child.kill('SIGTERM');
    assert.equal(await exited, 0, serve.stderr());
    let c = spawnCli(['serve', 'tiny-convnet', '--lane', 'fork', '--port', '0'], { AIVMM_CACHE_DIR: dir });
    assert.equal(c.code, 2, c.stderr);
    assert.match(c.stderr, /--lane must be 'process' or 'thread', not 'fork'/);
    const cfg = join(dir, 'aivmm.yaml');
    await writeFile(cfg, 'server:\n  lane: threads\nmodels:\n  tiny:\n    model: tiny-convnet\n');
    c = spawnCli(['serve', '--config', cfg, '--port', '0'], { AIVMM_CACHE_DIR: dir });
    assert.equal(c.code, 3, c.stderr);
    assert.match(c.stderr, /server\.lane must be 'process' or 'thread', not 'threads'/);
  } finally {
    child.kill('SIGKILL');
    await cleanup();
  }
});

test('aivmm serve --device auto: an unmeasured model goes to the CPU, and /v1/placement says why', { timeout: 120_000 }, async () => {
  const { dir, cleanup } = await tmp();
  const serve = spawnServe(BIN, ['tiny-convnet', '--device', 'auto', '--port', '0', '--json'], { ...process.env, AIVMM_CACHE_DIR: dir });
  const { child, exited } = serve;
  try {
    const line = await serve.ready;
    const url = (JSON.parse(line) as { data: { url: string } }).data.url;
    const p = (await (await fetch(`${url}/v1/placement/tiny-convnet`)).json()) as { models: { placement: { device: string; reason: string }[] }[] };
    assert.equal(p.models[0]?.placement[0]?.device, 'CPU');
    assert.match(p.models[0]?.placement[0]?.reason ?? '', /--device auto: no measurement of tiny-convnet on this host yet, so the CPU/);
    child.kill('SIGTERM');
    assert.equal(await exited, 0, serve.stderr());
  } finally {
    child.kill('SIGKILL');
    await cleanup();
  }
});
