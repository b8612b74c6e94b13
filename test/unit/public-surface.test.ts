/**
 * The package's public surface as a consumer gets it: package.json `exports` → dist/index.js (built by
 * scripts/test.mjs before the tests run). The names exist, and they work: devices are listed from this
 * machine, a model is opened on the CPU and run through real onnxruntime-node.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';

const root = new URL('../../', import.meta.url);
const pkg = JSON.parse(await readFile(new URL('package.json', root), 'utf8')) as { exports: { '.': { import: string; types: string } } };
const entry = new URL(pkg.exports['.'].import, root);
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- the built JS, typed by the test's own assertions
const aivmm: any = await import(entry.href);

test('package.json exports dist/index.js and its declarations', async () => {
  assert.equal(pkg.exports['.'].import, './dist/index.js');
  await readFile(new URL(pkg.exports['.'].types, root)); // dist/index.d.ts exists
});

test('the named exports exist: devices, pull, resolve, quantize, bench, tasks, errors, backends, config, contract', () => {
  const functions = [
    'listDevices', 'discoverDevices', 'nodeHost', 'selectDevices', 'probeDevices',
    'pullModel', 'parseRepoId', 'hubSettings', 'listCached', 'removeCached', 'resolveModel', 'findAlias', 'ensureEmbeddedModel',
    'quantizeModel', 'chooseMode',
    'runBench', 'planPairs', 'gate', 'readBaseline', 'measure', 'compareSamples',
    'runTask', 'chatLoop',
    'openSession', 'backendFor', 'resolveBackend', 'registerBackend', 'targetFor',
    'loadConfig', 'resolveOutput', 'resolvePaths',
    'okEnvelope', 'errorEnvelope', 'toJson', 'isAivmmError', 'errorMessage',
  ];
  assert.deepEqual(functions.filter((n) => typeof aivmm[n] !== 'function'), []);
  const errors = ['AivmmError', 'UsageError', 'ConfigError', 'NetworkError', 'NotFoundError', 'AuthError', 'BackendUnavailableError', 'InferenceError', 'IntegrityError', 'RegressionError', 'NotImplementedError', 'CancelledError'];
  assert.deepEqual(errors.filter((n) => typeof aivmm[n] !== 'function'), []);
  assert.equal(new aivmm.NotFoundError('x').code, 'NOT_FOUND');
  assert.ok(new aivmm.NotFoundError('x') instanceof aivmm.AivmmError);
  assert.deepEqual(aivmm.TASKS.includes('image-classification'), true);
  assert.equal(aivmm.SCHEMAS.devices, 'aivmm/devices@1');
  assert.equal(aivmm.CPU_TARGET.runtime, 'onnxruntime');
});

test('listDevices through the public surface finds this machine\'s CPU', async () => {
  const config = aivmm.loadConfig(process.env);
  const report = await aivmm.listDevices({ host: aivmm.nodeHost(config.env, config.sysroot) });
  const cpu = report.devices.find((d: { id: string }) => d.id === 'CPU');
  assert.ok(cpu, `no CPU in ${report.devices.map((d: { id: string }) => d.id).join(', ')}`);
  assert.ok(cpu.backends.some((b: { backend: string }) => b.backend === 'ort-cpu'));
});

test('openSession + run: the embedded probe model on the CPU, y = relu(x·W + b) is finite and non-negative', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'aivmm-surface-'));
  try {
    const { path } = await aivmm.ensureEmbeddedModel('probe-mlp', dir);
    const { session, runtimeVersion } = await aivmm.openSession(aivmm.CPU_TARGET, path);
    assert.match(runtimeVersion, /^\d+\.\d+/);
    const x = new Float32Array(16).map((_, i) => i / 8 - 1);
    const out = await session.run({ x: { type: 'float32', dims: [1, 16], data: x } });
    const y = out['y'].data as Float32Array;
    assert.equal(y.length, 16);
    assert.ok([...y].every((v) => Number.isFinite(v) && v >= 0));
    await session.dispose();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
