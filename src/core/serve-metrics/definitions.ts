/**
 * Every metric `aivmm serve` exports, as data: name, type, labels, unit, meaning and the Triton / OVMS
 * metric it corresponds to. `createServeMetrics` builds its registry from this table, docs/metrics.md
 * documents the same names, and test/serve-metrics/docs.test.ts checks the two agree.
 *
 * Units are Prometheus base units (seconds, bytes, joules, watts, ratios 0–1), where Triton uses µs and
 * percent-as-ratio; the "equivalent" column says what to compare, not that the numbers are identical.
 */

export type MetricType = 'counter' | 'gauge' | 'histogram' | 'summary';

export interface MetricDef {
  /** The Prometheus name as exposed (counters end in _total; prom-client adds nothing). */
  name: string;
  type: MetricType;
  help: string;
  labels: readonly string[];
  unit: string;
  /** Histogram bucket upper bounds. */
  buckets?: readonly number[];
  /** Triton (nv_*) or OVMS (ovms_*) metric this corresponds to, or OpenTelemetry's instrument name. */
  equivalent?: string;
  /** Only registered when `createServeMetrics({ summaries: true })` (Triton: --metrics-config summary_latencies=true). */
  optional?: 'summaries';
}

const MV = ['model', 'version'] as const;

/**
 * Latency buckets in seconds: 100 µs (a tiny model on a warm CPU) to 60 s (a long generation or a
 * cold load), roughly ×2.5 per step, so p50/p99 of both tiny and large models fall between bounds.
 */
export const LATENCY_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60] as const;
/** Powers of two up to 256: the batch sizes a dynamic batcher forms. */
export const BATCH_BUCKETS = [1, 2, 4, 8, 16, 32, 64, 128, 256] as const;
/** Summary quantiles (Triton's summary_quantiles default set). */
export const SUMMARY_PERCENTILES = [0.5, 0.9, 0.95, 0.99] as const;

/**
 * OpenTelemetry GenAI semantic conventions (gen-ai-metrics.md, "Generative AI model server metrics"):
 * the explicit bucket boundaries the spec recommends for each instrument.
 */
export const GENAI_REQUEST_DURATION_BUCKETS = [0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92] as const;
export const GENAI_TTFT_BUCKETS = [0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10] as const;
export const GENAI_TPOT_BUCKETS = [0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1, 2.5] as const;

/** Failure reasons a request can end with (label `reason`). */
export const FAILURE_REASONS = ['bad_input', 'timeout', 'rejected', 'runtime_error', 'cancelled'] as const;
export type FailureReason = (typeof FAILURE_REASONS)[number];

/** Lifecycle events of a model version (label `event`). */
export const LOAD_EVENTS = ['load', 'load_failed', 'unload'] as const;
export type LoadEvent = (typeof LOAD_EVENTS)[number];

/** The OTel attributes as Prometheus labels (dots become underscores). */
const GENAI = ['gen_ai_operation_name', 'gen_ai_request_model'] as const;

const STAGES = [
  ['request', 'Server-side time per request: queue + compute input + compute infer + compute output'],
  ['queue', 'Time a request waited in the admission queue for a free instance'],
  ['compute_input', 'Time preparing a request\'s inputs: decoding tensors and sending them to the worker lane'],
  ['compute_infer', 'Time running the model (session.run); a request in a batch counts the whole batch run'],
  ['compute_output', 'Time turning a request\'s outputs into the response: receiving them from the lane and encoding'],
] as const;

export const METRICS: readonly MetricDef[] = [
  {
    name: 'aivmm_inference_request_success_total',
    type: 'counter',
    help: 'Inference requests that succeeded.',
    labels: MV,
    unit: 'requests',
    equivalent: 'nv_inference_request_success; ovms_requests_success',
  },
  {
    name: 'aivmm_inference_request_failure_total',
    type: 'counter',
    help: `Inference requests that failed, by reason: ${FAILURE_REASONS.join(', ')}.`,
    labels: [...MV, 'reason'],
    unit: 'requests',
    equivalent: 'nv_inference_request_failure{reason=REJECTED|CANCELED|BACKEND|OTHER}; ovms_requests_fail',
  },
  {
    name: 'aivmm_inference_count_total',
    type: 'counter',
    help: 'Inferences performed: a request with a batch dimension of n counts n.',
    labels: MV,
    unit: 'inferences',
    equivalent: 'nv_inference_count',
  },
  {
    name: 'aivmm_inference_exec_count_total',
    type: 'counter',
    help: 'Model executions (session runs); inference count / exec count is the mean batch size.',
    labels: MV,
    unit: 'executions',
    equivalent: 'nv_inference_exec_count',
  },
  {
    name: 'aivmm_inference_pending_requests',
    type: 'gauge',
    help: 'Requests waiting in the admission queue for an instance.',
    labels: MV,
    unit: 'requests',
    equivalent: 'nv_inference_pending_request_count; ovms_infer_req_queue_size',
  },
  ...STAGES.map(([stage, what]): MetricDef => ({
    name: `aivmm_inference_${stage}_duration_seconds`,
    type: 'histogram',
    help: `${what}.`,
    labels: MV,
    unit: 'seconds',
    buckets: LATENCY_BUCKETS,
    equivalent: `nv_inference_${stage}_duration_us (the _sum, in µs)${stage === 'request' ? '; ovms_request_time_us' : stage === 'queue' ? '; ovms_wait_for_infer_req_time_us' : stage === 'compute_infer' ? '; ovms_inference_time_us' : ''}`,
  })),
  ...STAGES.map(([stage]): MetricDef => ({
    name: `aivmm_inference_${stage}_duration_quantiles_seconds`,
    type: 'summary',
    help: `Quantiles (0.5, 0.9, 0.95, 0.99) of the ${stage.replace('_', ' ')} time per request over a sliding 10-minute window.`,
    labels: MV,
    unit: 'seconds',
    equivalent: `nv_inference_${stage}_summary_us`,
    optional: 'summaries',
  })),
  {
    name: 'aivmm_inference_batch_size',
    type: 'histogram',
    help: 'Inferences per model execution (the batch a dynamic batcher formed, or the request batch).',
    labels: MV,
    unit: 'inferences',
    buckets: BATCH_BUCKETS,
    equivalent: 'none (Triton: nv_inference_count / nv_inference_exec_count)',
  },
  {
    name: 'aivmm_inference_energy_joules_total',
    type: 'counter',
    help: "Energy attributed to executions: the device's latest power reading x each execution's compute time.",
    labels: [...MV, 'device'],
    unit: 'joules',
    equivalent: 'none (Triton: nv_energy_consumption is per GPU)',
  },
  {
    name: 'aivmm_model_load_events_total',
    type: 'counter',
    help: `Model version lifecycle events: ${LOAD_EVENTS.join(', ')}.`,
    labels: [...MV, 'event'],
    unit: 'events',
    equivalent: 'none (Triton and OVMS log these)',
  },
  {
    name: 'aivmm_generation_time_to_first_token_seconds',
    type: 'histogram',
    help: 'Time from the request arriving to the first output token.',
    labels: ['model'],
    unit: 'seconds',
    buckets: GENAI_TTFT_BUCKETS,
    equivalent: 'nv_inference_first_response_histogram_ms',
  },
  {
    name: 'aivmm_generation_time_per_output_token_seconds',
    type: 'histogram',
    help: 'Mean time per output token after the first, per request.',
    labels: ['model'],
    unit: 'seconds',
    buckets: GENAI_TPOT_BUCKETS,
    equivalent: 'vllm:time_per_output_token_seconds',
  },
  {
    name: 'aivmm_generation_output_tokens_total',
    type: 'counter',
    help: 'Output tokens generated.',
    labels: ['model'],
    unit: 'tokens',
    equivalent: 'vllm:generation_tokens_total',
  },
  {
    name: 'gen_ai_server_request_duration_seconds',
    type: 'histogram',
    help: 'OpenTelemetry GenAI gen_ai.server.request.duration: generation request duration.',
    labels: GENAI,
    unit: 'seconds',
    buckets: GENAI_REQUEST_DURATION_BUCKETS,
    equivalent: 'gen_ai.server.request.duration (OpenTelemetry)',
  },
  {
    name: 'gen_ai_server_time_to_first_token_seconds',
    type: 'histogram',
    help: 'OpenTelemetry GenAI gen_ai.server.time_to_first_token: time to generate the first token.',
    labels: GENAI,
    unit: 'seconds',
    buckets: GENAI_TTFT_BUCKETS,
    equivalent: 'gen_ai.server.time_to_first_token (OpenTelemetry)',
  },
  {
    name: 'gen_ai_server_time_per_output_token_seconds',
    type: 'histogram',
    help: 'OpenTelemetry GenAI gen_ai.server.time_per_output_token: time per output token after the first.',
    labels: GENAI,
    unit: 'seconds',
    buckets: GENAI_TPOT_BUCKETS,
    equivalent: 'gen_ai.server.time_per_output_token (OpenTelemetry)',
  },
  {
    name: 'aivmm_device_info',
    type: 'gauge',
    help: 'Always 1: the device id with its kind, vendor and name, to join on `device`.',
    labels: ['device', 'kind', 'vendor', 'name'],
    unit: 'none',
    equivalent: 'none (Triton labels GPU metrics with gpu_uuid)',
  },
  {
    name: 'aivmm_device_utilization_ratio',
    type: 'gauge',
    help: 'Device busy fraction (0-1) over the last sampling interval.',
    labels: ['device'],
    unit: 'ratio',
    equivalent: 'nv_gpu_utilization; nv_cpu_utilization',
  },
  {
    name: 'aivmm_device_frequency_ratio',
    type: 'gauge',
    help: 'Actual / maximum GPU clock (Intel i915/xe, which expose no busy counter in sysfs): a utilisation proxy.',
    labels: ['device'],
    unit: 'ratio',
    equivalent: 'none',
  },
  {
    name: 'aivmm_device_memory_used_bytes',
    type: 'gauge',
    help: 'Device memory in use (VRAM for GPUs; MemTotal - MemAvailable for the CPU).',
    labels: ['device'],
    unit: 'bytes',
    equivalent: 'nv_gpu_memory_used_bytes; nv_cpu_memory_used_bytes',
  },
  {
    name: 'aivmm_device_memory_total_bytes',
    type: 'gauge',
    help: 'Device memory in total.',
    labels: ['device'],
    unit: 'bytes',
    equivalent: 'nv_gpu_memory_total_bytes; nv_cpu_memory_total_bytes',
  },
  {
    name: 'aivmm_device_power_watts',
    type: 'gauge',
    help: 'Power draw: board power (nvidia-smi, amdgpu hwmon), energy-counter deltas (Intel hwmon, CPU RAPL package).',
    labels: ['device'],
    unit: 'watts',
    equivalent: 'nv_gpu_power_usage',
  },
  {
    name: 'aivmm_device_power_limit_watts',
    type: 'gauge',
    help: 'Power limit, where the driver reports one.',
    labels: ['device'],
    unit: 'watts',
    equivalent: 'nv_gpu_power_limit',
  },
  {
    name: 'aivmm_device_temperature_celsius',
    type: 'gauge',
    help: 'Device temperature (GPU core / edge; CPU package).',
    labels: ['device'],
    unit: 'celsius',
    equivalent: 'none (Triton has no temperature metric)',
  },
  {
    name: 'aivmm_device_energy_joules_total',
    type: 'counter',
    help: 'Energy consumed since the server started: energy counters where the device has one, else power x time between samples.',
    labels: ['device'],
    unit: 'joules',
    equivalent: 'nv_energy_consumption',
  },
  {
    name: 'aivmm_device_energy_per_inference_joules',
    type: 'gauge',
    help: 'Over the last sampling interval: energy attributed to executions on the device / inferences they performed.',
    labels: ['device'],
    unit: 'joules per inference',
    equivalent: 'none',
  },
];
