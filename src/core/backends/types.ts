/** One interface over every runtime: load a model for a target, run it on host tensors, dispose. */
import type { RuntimeTarget } from './ep-map.js';

export type ElementType = 'float32' | 'float16' | 'int64' | 'int32' | 'int8' | 'uint8' | 'bool';

export type TypedData = Float32Array | Uint16Array | BigInt64Array | Int32Array | Int8Array | Uint8Array;

export interface HostTensor {
  type: ElementType;
  dims: readonly number[];
  data: TypedData;
}

export interface TensorSpec {
  name: string;
  type: string;
  /** Numbers are fixed, strings symbolic, -1 unknown. */
  shape: readonly (number | string)[];
}

export interface LoadOptions {
  /** Intra-op threads (CPU work); undefined lets the runtime decide. */
  threads?: number;
  graphOptimizationLevel?: 'disabled' | 'basic' | 'extended' | 'all';
  /** Fail session creation if any node would fall back to the CPU instead of the requested EP. */
  strictPlacement?: boolean;
  /** Record which execution provider ran each node (readable through Session.placement()). */
  profile?: { dir: string };
  /** false: idle intra-op threads sleep at once instead of spinning (ORT's default is to spin briefly). */
  spinning?: boolean;
  /** Passed through to the execution provider / OpenVINO compile config. */
  epOptions?: Readonly<Record<string, string | number | boolean>>;
  /**
   * One session per batch size (dim 0 of the inputs) behind the one returned, opened as sizes appear, at most
   * this many (see per-batch-size.ts). For accelerator EPs whose kernels re-plan when a shape changes (CUDA).
   */
  sessionPerBatchSize?: number;
}

export interface Session {
  readonly target: RuntimeTarget;
  readonly inputs: readonly TensorSpec[];
  readonly outputs: readonly TensorSpec[];
  run(feeds: Readonly<Record<string, HostTensor>>): Promise<Record<string, HostTensor>>;
  /** Nodes executed per provider/device since load; needs LoadOptions.profile. Ends profiling. */
  placement(): Promise<Record<string, number> | undefined>;
  dispose(): Promise<void>;
}

export interface Backend {
  readonly runtime: RuntimeTarget['runtime'];
  /** Loads the runtime (native addon) and returns its version; throws BackendUnavailableError. */
  version(): Promise<string>;
  load(model: string | Uint8Array, target: RuntimeTarget, opts?: LoadOptions): Promise<Session>;
}
