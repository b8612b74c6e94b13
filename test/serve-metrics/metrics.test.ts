/** The serve metrics registry: what each recording call does to the Prometheus exposition. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { register as globalRegister } from 'prom-client';
import { BackendUnavailableError, CancelledError, InferenceError, LaneCrashedError, NotImplementedError, UsageError } from '../../src/core/errors.js';
import { createServeMetrics, failureReason, LATENCY_BUCKETS } from '../../src/core/serve-metrics/index.js';
import type { DeviceSample } from '../../src/core/devices/telemetry.js';
import { parseExposition, sampleValue } from '../helpers/prom-text.js';

const MV = { model: 'tiny', version: '1' };
const cpuSample = (over: Partial<DeviceSample> = {}): DeviceSample => ({ device: 'CPU', kind: 'cpu', vendor: 'Intel', name: 'Fake CPU', at: 1000, sources: {}, ...over });

test('the registry is private: two instances never share series, the global default registry stays empty', async () => {
  const a = createServeMetrics();
  const b = createServeMetrics();
  a.recordRequest({ ...MV, outcome: 'success' });
  const pa = parseExposition(await a.exposition());
  const pb = parseExposition(await b.exposition());
  assert.equal(sampleValue(pa, 'aivmm_inference_request_success_total', MV), 1);
  assert.equal(sampleValue(pb, 'aivmm_inference_request_success_total', MV), undefined);
  assert.equal((await globalRegister.metrics()).includes('aivmm_'), false);
  assert.match(a.contentType, /^text\/plain; version=0\.0\.4/);
});

test('requests: success and failures by reason, inference count by batch, stage histograms in seconds', async () => {
  const m = createServeMetrics();
  for (let i = 0; i < 3; i++) m.recordRequest({ ...MV, outcome: 'success', queueS: 0.002, inputS: 0.0001, inferS: 0.004, outputS: 0.0002, batch: 2 });
  m.recordRequest({ ...MV, outcome: 'failure', reason: 'timeout', queueS: 0.5 });
  m.recordRequest({ ...MV, outcome: 'failure', reason: 'bad_input' });
  m.recordRequest({ model: 'other', version: '3', outcome: 'success', inferS: 1 });
  const p = parseExposition(await m.exposition());
  assert.equal(sampleValue(p, 'aivmm_inference_request_success_total', MV), 3);
  assert.equal(sampleValue(p, 'aivmm_inference_request_failure_total', { ...MV, reason: 'timeout' }), 1);
  assert.equal(sampleValue(p, 'aivmm_inference_request_failure_total', { ...MV, reason: 'bad_input' }), 1);
  assert.equal(sampleValue(p, 'aivmm_inference_count_total', MV), 6, 'a request of batch 2 counts two inferences');
  assert.equal(sampleValue(p, 'aivmm_inference_count_total', { model: 'other', version: '3' }), 1);
  // every request has a request and queue time; failures that never ran have no compute times
  assert.equal(sampleValue(p, 'aivmm_inference_request_duration_seconds_count', MV), 5);
  assert.equal(sampleValue(p, 'aivmm_inference_queue_duration_seconds_count', MV), 5);
  assert.equal(sampleValue(p, 'aivmm_inference_compute_infer_duration_seconds_count', MV), 3);
  const sum = sampleValue(p, 'aivmm_inference_request_duration_seconds_sum', MV)!;
  assert.ok(Math.abs(sum - (3 * 0.0063 + 0.5)) < 1e-9, `request time is the sum of the stages (${sum})`);
  assert.ok(Math.abs(sampleValue(p, 'aivmm_inference_compute_infer_duration_seconds_sum', MV)! - 0.012) < 1e-9);
  // 4 ms falls in the 5 ms bucket, not the 2.5 ms one
  assert.equal(sampleValue(p, 'aivmm_inference_compute_infer_duration_seconds_bucket', { ...MV, le: '0.0025' }), 0);
  assert.equal(sampleValue(p, 'aivmm_inference_compute_infer_duration_seconds_bucket', { ...MV, le: '0.005' }), 3);
  const les = p.get('aivmm_inference_queue_duration_seconds')!.samples.filter((s) => s.name.endsWith('_bucket') && s.labels.model === 'tiny').map((s) => s.labels.le);
  assert.deepEqual(les, [...LATENCY_BUCKETS.map(String), '+Inf']);
});

test('a failure needs a known reason; a load event must be one of the known events', () => {
  const m = createServeMetrics();
  assert.throws(() => m.recordRequest({ ...MV, outcome: 'failure' }), UsageError);
  assert.throws(() => m.recordRequest({ ...MV, outcome: 'failure', reason: 'oops' as never }), /bad_input, timeout, rejected, runtime_error, cancelled/);
  assert.throws(() => m.recordLoad('tiny', '1', 'exploded' as never), UsageError);
});

test('batches: exec count vs inference count, batch-size histogram, pending gauge, load events', async () => {
  const m = createServeMetrics();
  m.recordBatch({ ...MV, size: 8 });
  m.recordBatch({ ...MV, size: 3 });
  m.setPending('tiny', '1', 5);
  m.setPending('tiny', '1', 2);
  m.recordLoad('tiny', '1', 'load');
  m.recordLoad('tiny', '1', 'unload');
  m.recordLoad('tiny', '1', 'load');
  const p = parseExposition(await m.exposition());
  assert.equal(sampleValue(p, 'aivmm_inference_exec_count_total', MV), 2);
  assert.equal(sampleValue(p, 'aivmm_inference_batch_size_sum', MV), 11);
  assert.equal(sampleValue(p, 'aivmm_inference_batch_size_bucket', { ...MV, le: '4' }), 1);
  assert.equal(sampleValue(p, 'aivmm_inference_batch_size_bucket', { ...MV, le: '8' }), 2);
  assert.equal(sampleValue(p, 'aivmm_inference_pending_requests', MV), 2);
  assert.equal(sampleValue(p, 'aivmm_model_load_events_total', { ...MV, event: 'load' }), 2);
  assert.equal(sampleValue(p, 'aivmm_model_load_events_total', { ...MV, event: 'unload' }), 1);
});

test('energy: power x compute time per execution, per inference over the sampling interval; no power, no energy', async () => {
  const m = createServeMetrics();
  m.recordBatch({ ...MV, size: 4, device: 'CPU', inferS: 0.5 }); // no power reading yet: nothing attributed
  m.setDevice(cpuSample({ powerW: 100, energyJ: 0 }));
  m.recordBatch({ ...MV, size: 4, device: 'CPU', inferS: 0.5 });
  m.recordBatch({ ...MV, size: 1, device: 'CPU', inferS: 0.25 });
  let p = parseExposition(await m.exposition());
  assert.equal(sampleValue(p, 'aivmm_inference_energy_joules_total', { ...MV, device: 'CPU' }), 75);
  assert.equal(sampleValue(p, 'aivmm_device_energy_per_inference_joules', { device: 'CPU' }), undefined, 'no interval closed yet');
  m.setDevice(cpuSample({ at: 2000, powerW: 80, energyJ: 90 }));
  p = parseExposition(await m.exposition());
  assert.equal(sampleValue(p, 'aivmm_device_energy_per_inference_joules', { device: 'CPU' }), 15, '75 J over 5 inferences');
  assert.equal(sampleValue(p, 'aivmm_device_energy_joules_total', { device: 'CPU' }), 90);
  m.setDevice(cpuSample({ at: 3000, powerW: 80, energyJ: 170 }));
  p = parseExposition(await m.exposition());
  assert.equal(sampleValue(p, 'aivmm_device_energy_per_inference_joules', { device: 'CPU' }), undefined, 'an interval without inferences has no per-inference energy');
  assert.equal(sampleValue(p, 'aivmm_device_energy_joules_total', { device: 'CPU' }), 170);
});

test('device readings: present ones are set, absent ones are absent (never 0), and disappear when they stop', async () => {
  const m = createServeMetrics();
  m.setDevice(cpuSample({ utilization: 0.25, memoryUsedBytes: 1e9, memoryTotalBytes: 4e9, temperatureC: 55, powerW: 20, powerLimitW: 65 }));
  m.setDevice({ device: 'GPU.0', kind: 'gpu', vendor: 'AMD', name: 'Radeon', at: 1000, sources: {}, memoryTotalBytes: 8e9 });
  let p = parseExposition(await m.exposition());
  assert.equal(sampleValue(p, 'aivmm_device_utilization_ratio', { device: 'CPU' }), 0.25);
  assert.equal(sampleValue(p, 'aivmm_device_memory_used_bytes', { device: 'CPU' }), 1e9);
  assert.equal(sampleValue(p, 'aivmm_device_temperature_celsius', { device: 'CPU' }), 55);
  assert.equal(sampleValue(p, 'aivmm_device_power_limit_watts', { device: 'CPU' }), 65);
  assert.equal(sampleValue(p, 'aivmm_device_info', { device: 'GPU.0', kind: 'gpu', vendor: 'AMD', name: 'Radeon' }), 1);
  assert.equal(sampleValue(p, 'aivmm_device_memory_total_bytes', { device: 'GPU.0' }), 8e9);
  assert.equal(sampleValue(p, 'aivmm_device_utilization_ratio', { device: 'GPU.0' }), undefined);
  assert.equal(sampleValue(p, 'aivmm_device_power_watts', { device: 'GPU.0' }), undefined);
  m.setDevice(cpuSample({ at: 2000, memoryTotalBytes: 4e9 }));
  p = parseExposition(await m.exposition());
  assert.equal(sampleValue(p, 'aivmm_device_utilization_ratio', { device: 'CPU' }), undefined);
  assert.equal(sampleValue(p, 'aivmm_device_power_watts', { device: 'CPU' }), undefined);
});

test('generation: TTFT and TPOT under aivmm names and the OpenTelemetry GenAI names', async () => {
  const m = createServeMetrics();
  m.recordGeneration({ model: 'llm', ttftS: 0.2, tpotS: 0.05, tokens: 11 });
  m.recordGeneration({ model: 'llm', ttftS: 0.3, tokens: 1, operation: 'text_completion' });
  const p = parseExposition(await m.exposition());
  const genai = { gen_ai_operation_name: 'chat', gen_ai_request_model: 'llm' };
  assert.equal(sampleValue(p, 'aivmm_generation_time_to_first_token_seconds_count', { model: 'llm' }), 2);
  assert.equal(sampleValue(p, 'gen_ai_server_time_to_first_token_seconds_count', genai), 1);
  assert.equal(sampleValue(p, 'gen_ai_server_time_to_first_token_seconds_count', { ...genai, gen_ai_operation_name: 'text_completion' }), 1);
  assert.equal(sampleValue(p, 'gen_ai_server_time_per_output_token_seconds_count', genai), 1);
  assert.equal(sampleValue(p, 'aivmm_generation_time_per_output_token_seconds_count', { model: 'llm' }), 1, 'a one-token answer has no time per output token');
  assert.equal(sampleValue(p, 'aivmm_generation_output_tokens_total', { model: 'llm' }), 12);
  assert.ok(Math.abs(sampleValue(p, 'gen_ai_server_request_duration_seconds_sum', genai)! - 0.7) < 1e-9, 'duration = ttft + tpot x (tokens - 1)');
  assert.equal(p.get('gen_ai_server_time_to_first_token_seconds')!.type, 'histogram');
});

test('summaries only when asked, with quantiles; forgetModel drops a version, keeps the others', async () => {
  assert.equal((await createServeMetrics().exposition()).includes('_duration_quantiles_seconds'), false);
  const m = createServeMetrics({ summaries: true });
  for (const v of [0.001, 0.002, 0.003, 0.004]) m.recordRequest({ ...MV, outcome: 'success', inferS: v });
  m.recordRequest({ model: 'tiny', version: '2', outcome: 'success', inferS: 0.01 });
  m.recordBatch({ ...MV, size: 1 });
  m.recordLoad('tiny', '1', 'load');
  let p = parseExposition(await m.exposition());
  assert.equal(p.get('aivmm_inference_compute_infer_duration_quantiles_seconds')!.type, 'summary');
  assert.equal(sampleValue(p, 'aivmm_inference_compute_infer_duration_quantiles_seconds_count', MV), 4);
  const q = sampleValue(p, 'aivmm_inference_compute_infer_duration_quantiles_seconds', { ...MV, quantile: '0.5' })!;
  assert.ok(q >= 0.002 && q <= 0.003, `median ${q}`);
  await m.forgetModel('tiny', '1');
  const text = await m.exposition();
  assert.equal(/version="1"/.test(text), false, 'no series of tiny/1 left');
  p = parseExposition(text);
  assert.equal(sampleValue(p, 'aivmm_inference_request_success_total', { model: 'tiny', version: '2' }), 1);
  // the version served again (a reload): its series start over, not into the ones forgetModel dropped
  m.recordRequest({ ...MV, outcome: 'success', inferS: 0.001 });
  m.recordBatch({ ...MV, size: 2 });
  p = parseExposition(await m.exposition());
  assert.deepEqual(
    ['aivmm_inference_request_success_total', 'aivmm_inference_compute_infer_duration_seconds_count', 'aivmm_inference_exec_count_total', 'aivmm_inference_batch_size_sum'].map((n) => sampleValue(p, n, MV)),
    [1, 1, 1, 2],
  );
  assert.equal(m.traffic().find((w) => w.version === '1')?.requests, 1);
});

test("the request-path series render exactly as prom-client's own Counter, Gauge and Histogram do", async () => {
  const { Counter, Gauge, Histogram, Registry } = await import('prom-client');
  const { CounterSeries, GaugeSeries, HistogramSeries } = await import('../../src/core/serve-metrics/series.js');
  const ours = new Registry();
  const theirs = new Registry();
  const labelNames = ['model', 'version'];
  const c = new CounterSeries('c_total', 'a counter', labelNames);
  const g = new GaugeSeries('g', 'a gauge', labelNames);
  const h = new HistogramSeries('h_seconds', 'a histogram', labelNames, [0.001, 0.01, 0.1, 1]);
  for (const x of [c, g, h]) ours.registerMetric(x as never);
  const pc = new Counter({ name: 'c_total', help: 'a counter', labelNames, registers: [theirs] });
  const pg = new Gauge({ name: 'g', help: 'a gauge', labelNames, registers: [theirs] });
  const ph = new Histogram({ name: 'h_seconds', help: 'a histogram', labelNames, buckets: [0.001, 0.01, 0.1, 1], registers: [theirs] });
  const values = [0, 0.0005, 0.001, 0.002, 0.05, 0.1, 0.7, 3, 12];
  for (const [i, v] of values.entries()) {
    const l = { model: i % 2 ? 'a' : 'b"q\\', version: String(i % 3) };
    c.inc(l, v);
    pc.inc(l, v);
    g.set(l, -v);
    pg.set(l, -v);
    h.observe(l, v);
    ph.observe(l, v);
  }
  c.remove({ model: 'a', version: '1' });
  pc.remove({ model: 'a', version: '1' });
  assert.equal(await ours.metrics(), await theirs.metrics(), 'byte for byte');
  assert.throws(() => c.inc({ model: 'a' }), /label 'version' is missing/);
  assert.throws(() => c.inc({ model: 'a', version: '1', extra: 'x' }), /unknown label 'extra'/);
  assert.throws(() => c.inc({ model: 'a', version: '1' }, -1), /only goes up/);
  assert.throws(() => h.observe({ model: 'a', version: '1' }, NaN), /finite/);
});

test('failureReason: typed errors and HTTP statuses map onto the documented reasons', () => {
  const withStatus = <E extends Error>(e: E, status: number): E => Object.assign(e, { status });
  assert.equal(failureReason(new UsageError('bad shape')), 'bad_input');
  assert.equal(failureReason(new NotImplementedError('BF16')), 'bad_input');
  assert.equal(failureReason(withStatus(new UsageError('too large'), 413)), 'bad_input');
  assert.equal(failureReason(withStatus(new InferenceError('deadline'), 504)), 'timeout');
  assert.equal(failureReason(new CancelledError('client went away')), 'cancelled');
  assert.equal(failureReason(withStatus(new BackendUnavailableError('queue full'), 503)), 'rejected');
  assert.equal(failureReason(withStatus(new LaneCrashedError('lane died'), 503)), 'runtime_error');
  assert.equal(failureReason(new InferenceError('ORT failed')), 'runtime_error');
  assert.equal(failureReason(new Error('?')), 'runtime_error');
  assert.equal(failureReason(undefined), 'runtime_error');
});
