/**
 * aivmm as a library: what `import … from 'aivmm'` gives (package.json `exports` → dist/index.js).
 * Core only — no CLI, no UI, nothing here prints, exits or reads process.env: pass the environment to
 * loadConfig() yourself and hand its parts to the functions below. Native addons load lazily, when a
 * session is first opened. Pipelines will be exported here when they land.
 */

// Configuration (read once, from an environment you pass) and the JSON contract the CLI and a server share.
export { loadConfig, resolveOutput, ENV_VARS, type AivmmConfig, type OutputSettings, type OutputMode, type EnvVar, type Env } from './core/config/load.js';
export { resolvePaths, type AivmmPaths } from './core/config/paths.js';
export { SCHEMAS, okEnvelope, errorEnvelope, toJson, type OkEnvelope, type ErrorEnvelope, type Envelope, type SchemaName } from './core/contract/index.js';

// Errors: a typed tree with stable codes (exit codes are the CLI's mapping, src/cli/exit-codes.ts).
export {
  AivmmError,
  UsageError,
  ConfigError,
  NetworkError,
  NotFoundError,
  AuthError,
  BackendUnavailableError,
  InferenceError,
  IntegrityError,
  RegressionError,
  NotImplementedError,
  CancelledError,
  isAivmmError,
  errorMessage,
  errorRecord,
  type ErrorCode,
} from './core/errors.js';

// Devices: discovery, selection, probing.
export { listDevices, discoverDevices, nodeHost, selectDevices, probeDevices, applyProbeCache, hostFingerprint, type ListDevicesOptions, type Host, type ProbeRunner, type ProbeEvent } from './core/devices/index.js';
export type * from './core/devices/types.js';

// Backends: one registry; open sessions through openSession (strict placement, then the CPU fallback).
export { openSession, backendFor, resolveBackend, registerBackend, registeredBackends, CPU_TARGET, type OpenOptions, type OpenedSession, type RuntimeName } from './core/backends/registry.js';
export { targetFor, describeTarget, type RuntimeTarget, type OrtProviderName } from './core/backends/ep-map.js';
export type { Backend, Session, LoadOptions, HostTensor, TensorSpec, ElementType, TypedData } from './core/backends/types.js';

// Hub: pull into the shared Hugging Face cache, list and remove cached models, resolve a model argument.
export { pullModel, parseRepoId, type PullRequest, type PullOptions, type PullEvent, type PullResult, type PulledFile } from './core/hub/pull.js';
export { hubSettings, type HubSettings } from './core/hub/settings.js';
export { listCached, removeCached, type CachedRepo } from './core/hub/models.js';
export { resolveModel, type ResolvedModel, type ModelPuller } from './core/hub/resolve-model.js';
export { loadCatalog, findAlias, type Catalog, type CatalogEntry } from './core/hub/catalog.js';
export { EMBEDDED_MODELS, DEFAULT_MODEL, embeddedModel, ensureEmbeddedModel, buildMobilenetV2, MOBILENETV2_STAGES, type EmbeddedModel, type MaterializedModel } from './core/models/embedded.js';

// Quantize.
export {
  quantizeModel,
  chooseMode,
  defaultOutput,
  POOR_COSINE,
  POOR_TOP1,
  STATIC_OP_TYPES,
  DYNAMIC_OP_TYPES,
  FP16_BLOCKED_OPS,
  type QuantizeMode,
  type QuantizeOptions,
  type QuantizeReport,
  type QuantizeEvent,
  type QuantizeStage,
  type Fidelity,
  type LatencyComparison,
  type CalibrationMethod,
} from './core/quantize/index.js';

// Float16 bits <-> numbers, for models with float16 inputs and outputs.
export { floatToHalf, halfToFloat } from './core/half.js';

// Bench: plan (device, backend) pairs, measure, compare with a baseline.
export {
  runBench,
  planPairs,
  parseBackends,
  benchPair,
  gate,
  readBaseline,
  rowKey,
  parsePercent,
  compareSamples,
  mannWhitney,
  bootstrapMedianRatio,
  describeSamples,
  histogram,
  quantileSorted,
  measure,
  parseDuration,
  parseShape,
  sha256File,
  type BenchOptions,
  type BenchEvent,
  type PairRunner,
  type PairEvent,
} from './core/bench/index.js';
export type * from './core/bench/types.js';

// Tasks: a model with its pre- and post-processing.
export { openPipeline, inferTask, planTask, runTask, chatLoop, expandImageInputs, TASKS, type TaskPlan, type PlanArgs, type TaskName, type RunOptions, type RunReport, type ChatMessage } from './core/tasks/index.js';
export type { AnyPipeline, Pipeline, TaskOptions } from './core/tasks/index.js';
export { preprocessImage, describeSpec, torchvisionSpec, clipSpec, yoloLetterboxSpec, type ImageSpec, type SpecDescription } from './core/tasks/preprocess.js';
export { specFromPreprocessorConfig, readPreprocessorConfig } from './core/tasks/preprocessor-config.js';
export type { ClassificationResult, DetectionResult, GenerationResult, GenerationSettings, ZeroShotResult, TranscriptResult, EmbeddingResult } from './core/tasks/index.js';
