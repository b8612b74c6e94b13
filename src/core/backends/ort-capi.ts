/**
 * onnxruntime's C API, called directly through koffi (an FFI with prebuilt binaries in its npm package),
 * for what onnxruntime-node's binding cannot express:
 * - CUDA and TensorRT provider options: the binding passes these EPs nothing but `deviceId`;
 * - CUDA graphs, which need inputs and outputs bound to device buffers at fixed addresses.
 * It loads the same libonnxruntime that onnxruntime-node ships (and the provider libraries beside it),
 * so nothing else is installed. Function indices in the OrtApi table: see ORT_API below.
 */
import { join } from 'node:path';
import { readElfDynamic } from './elf.js';
import { ortPackage } from './packages.js';
import { ELEMENT_BYTES, typedArrayOf } from './tensor-data.js';
import { BackendUnavailableError, InferenceError, UsageError, errorMessage } from '../errors.js';
import type { RuntimeTarget } from './ep-map.js';
import type { ElementType, HostTensor, LoadOptions, Session, TensorSpec, TypedData } from './types.js';

type Ptr = unknown;
type Fn = (...args: unknown[]) => unknown;

/** The part of koffi's API used here, declared here: koffi is an optional dependency, and the build must not need it. */
interface Koffi {
  load(path: string): { func(declaration: string): Fn };
  proto(declaration: string): unknown;
  decode(value: unknown, typeOrOffset: unknown, lengthOrType?: unknown): unknown;
  call(fn: Ptr, type: unknown, ...args: unknown[]): unknown;
  alloc(type: string, length: number): Ptr;
  free(p: Ptr): void;
  view(p: Ptr, length: number): ArrayBuffer;
}
type OrtTarget = Extract<RuntimeTarget, { runtime: 'onnxruntime' }>;

/**
 * Positions in `struct OrtApi` (onnxruntime_c_api.h). The table only grows at its end, so positions taken
 * from ORT_API_VERSION 29's header hold for every later version; `scripts/ort-api-index.mjs HEADER NAME…`
 * prints them from a header.
 */
const ORT_API = {
  GetErrorMessage: 2,
  CreateEnv: 3,
  CreateSession: 7,
  CreateSessionFromArray: 8,
  Run: 9,
  CreateSessionOptions: 10,
  EnableProfiling: 14,
  SetSessionGraphOptimizationLevel: 23,
  SetIntraOpNumThreads: 24,
  SessionGetInputCount: 30,
  SessionGetOutputCount: 31,
  SessionGetInputTypeInfo: 33,
  SessionGetOutputTypeInfo: 34,
  SessionGetInputName: 36,
  SessionGetOutputName: 37,
  CreateRunOptions: 39,
  CreateTensorAsOrtValue: 48,
  CreateTensorWithDataAsOrtValue: 49,
  GetTensorMutableData: 51,
  CastTypeInfoToTensorInfo: 55,
  GetOnnxTypeFromTypeInfo: 56,
  GetTensorElementType: 60,
  GetDimensionsCount: 61,
  GetDimensions: 62,
  GetSymbolicDimensions: 63,
  GetTensorTypeAndShape: 65,
  CreateCpuMemoryInfo: 69,
  AllocatorFree: 76,
  GetAllocatorWithDefaultOptions: 78,
  ReleaseMemoryInfo: 94,
  ReleaseSession: 95,
  ReleaseValue: 96,
  ReleaseRunOptions: 97,
  ReleaseTypeInfo: 98,
  ReleaseTensorTypeAndShapeInfo: 99,
  ReleaseSessionOptions: 100,
  SessionEndProfiling: 110,
  AddSessionConfigEntry: 130,
  CreateMemoryInfo: 68,
  RunWithBinding: 133,
  CreateIoBinding: 134,
  ReleaseIoBinding: 135,
  BindInput: 136,
  BindOutput: 137,
  ReleaseStatus: 93,
  SessionOptionsAppendExecutionProvider_TensorRT_V2: 170,
  CreateTensorRTProviderOptions: 171,
  UpdateTensorRTProviderOptions: 172,
  ReleaseTensorRTProviderOptions: 174,
  SessionOptionsAppendExecutionProvider_CUDA_V2: 204,
  CreateCUDAProviderOptions: 205,
  UpdateCUDAProviderOptions: 206,
  ReleaseCUDAProviderOptions: 208,
} as const;

/** The C prototype of each function used (OrtStatus* returned as a pointer: null is success). */
const PROTOS: Readonly<Record<keyof typeof ORT_API, string>> = {
  GetErrorMessage: 'const char *f(void *status)',
  CreateEnv: 'void *f(int level, const char *logid, _Out_ void **env)',
  CreateSession: 'void *f(void *env, const char *path, void *options, _Out_ void **session)',
  CreateSessionFromArray: 'void *f(void *env, const void *data, size_t len, void *options, _Out_ void **session)',
  Run: 'void *f(void *session, void *runOptions, const char **inNames, void **inputs, size_t nIn, const char **outNames, size_t nOut, void *outputs)',
  CreateSessionOptions: 'void *f(_Out_ void **options)',
  EnableProfiling: 'void *f(void *options, const char *prefix)',
  SetSessionGraphOptimizationLevel: 'void *f(void *options, int level)',
  SetIntraOpNumThreads: 'void *f(void *options, int n)',
  SessionGetInputCount: 'void *f(void *session, _Out_ size_t *n)',
  SessionGetOutputCount: 'void *f(void *session, _Out_ size_t *n)',
  SessionGetInputTypeInfo: 'void *f(void *session, size_t i, _Out_ void **info)',
  SessionGetOutputTypeInfo: 'void *f(void *session, size_t i, _Out_ void **info)',
  SessionGetInputName: 'void *f(void *session, size_t i, void *allocator, _Out_ void **name)',
  SessionGetOutputName: 'void *f(void *session, size_t i, void *allocator, _Out_ void **name)',
  CreateRunOptions: 'void *f(_Out_ void **options)',
  CreateTensorAsOrtValue: 'void *f(void *allocator, const int64_t *shape, size_t rank, int type, _Out_ void **value)',
  CreateTensorWithDataAsOrtValue: 'void *f(void *memInfo, void *data, size_t bytes, const int64_t *shape, size_t rank, int type, _Out_ void **value)',
  GetTensorMutableData: 'void *f(void *value, _Out_ void **data)',
  CastTypeInfoToTensorInfo: 'void *f(void *typeInfo, _Out_ void **tensorInfo)',
  GetOnnxTypeFromTypeInfo: 'void *f(void *typeInfo, _Out_ int *type)',
  GetTensorElementType: 'void *f(void *info, _Out_ int *type)',
  GetDimensionsCount: 'void *f(void *info, _Out_ size_t *n)',
  GetDimensions: 'void *f(void *info, _Out_ int64_t *dims, size_t n)',
  GetSymbolicDimensions: 'void *f(void *info, void *names, size_t n)',
  GetTensorTypeAndShape: 'void *f(void *value, _Out_ void **info)',
  CreateCpuMemoryInfo: 'void *f(int allocatorType, int memType, _Out_ void **info)',
  AllocatorFree: 'void *f(void *allocator, void *p)',
  GetAllocatorWithDefaultOptions: 'void *f(_Out_ void **allocator)',
  ReleaseMemoryInfo: 'void f(void *p)',
  ReleaseSession: 'void f(void *p)',
  ReleaseValue: 'void f(void *p)',
  ReleaseRunOptions: 'void f(void *p)',
  ReleaseTypeInfo: 'void f(void *p)',
  ReleaseTensorTypeAndShapeInfo: 'void f(void *p)',
  ReleaseSessionOptions: 'void f(void *p)',
  SessionEndProfiling: 'void *f(void *session, void *allocator, _Out_ void **path)',
  AddSessionConfigEntry: 'void *f(void *options, const char *key, const char *value)',
  CreateMemoryInfo: 'void *f(const char *name, int allocatorType, int id, int memType, _Out_ void **info)',
  RunWithBinding: 'void *f(void *session, void *runOptions, void *binding)',
  CreateIoBinding: 'void *f(void *session, _Out_ void **binding)',
  ReleaseIoBinding: 'void f(void *p)',
  BindInput: 'void *f(void *binding, const char *name, void *value)',
  BindOutput: 'void *f(void *binding, const char *name, void *value)',
  ReleaseStatus: 'void f(void *p)',
  SessionOptionsAppendExecutionProvider_TensorRT_V2: 'void *f(void *options, void *providerOptions)',
  CreateTensorRTProviderOptions: 'void *f(_Out_ void **providerOptions)',
  UpdateTensorRTProviderOptions: 'void *f(void *providerOptions, const char **keys, const char **values, size_t n)',
  ReleaseTensorRTProviderOptions: 'void f(void *p)',
  SessionOptionsAppendExecutionProvider_CUDA_V2: 'void *f(void *options, void *providerOptions)',
  CreateCUDAProviderOptions: 'void *f(_Out_ void **providerOptions)',
  UpdateCUDAProviderOptions: 'void *f(void *providerOptions, const char **keys, const char **values, size_t n)',
  ReleaseCUDAProviderOptions: 'void f(void *p)',
};

type Api = { [K in keyof typeof ORT_API]: Fn } & { koffi: Koffi; env: Ptr; allocator: Ptr; cpuMemory: Ptr; libDir: string };

/** ONNXTensorElementDataType values for the element types aivmm moves. */
const ELEMENT: Readonly<Record<ElementType, number>> = { float32: 1, uint8: 2, int8: 3, int32: 6, int64: 7, bool: 9, float16: 10 };
const ELEMENT_NAME = new Map<number, ElementType>(Object.entries(ELEMENT).map(([k, v]) => [v, k as ElementType]));
const ONNX_TYPE_TENSOR = 1;
const OPT_LEVEL = { disabled: 0, basic: 1, extended: 2, all: 99 } as const;
const ORT_DEVICE_ALLOCATOR = 0;
const ORT_MEM_TYPE_DEFAULT = 0;

let apiPromise: Promise<Api> | undefined;

async function loadKoffi(): Promise<Koffi> {
  try {
    const name = 'koffi'; // a variable: type-checking must not look for the optional package
    const m = (await import(name)) as { default?: Koffi };
    return m.default ?? (m as unknown as Koffi);
  } catch (err) {
    throw new BackendUnavailableError(`the FFI module koffi could not be loaded: ${errorMessage(err)}`, 'koffi is an optional dependency: reinstall with `npm install`', { cause: err });
  }
}

function libraryName(platform: string): string {
  if (platform === 'win32') return 'onnxruntime.dll';
  if (platform === 'darwin') return 'libonnxruntime.1.dylib';
  return 'libonnxruntime.so.1';
}

async function loadApi(): Promise<Api> {
  const koffi = await loadKoffi();
  // the library onnxruntime-node loads, with the provider libraries beside it
  const libDir = ortPackage().binDir;
  if (!libDir) throw new BackendUnavailableError('onnxruntime-node is not installed', 'reinstall with `npm install`');
  let lib: ReturnType<Koffi['load']>;
  try {
    lib = koffi.load(join(libDir, libraryName(process.platform)));
  } catch (err) {
    throw new BackendUnavailableError(`onnxruntime's library could not be loaded: ${errorMessage(err)}`, 'reinstall with `npm install`', { cause: err });
  }
  const getApiBase = lib.func('void *OrtGetApiBase()');
  const base = getApiBase() as Ptr;
  const [getApi, getVersion] = koffi.decode(base, 'void *', 2) as [Ptr, Ptr];
  const version = koffi.call(getVersion, koffi.proto('const char *GetVersionString()')) as string;
  // Version 16 (onnxruntime 1.16) has every function used here.
  const table = koffi.call(getApi, koffi.proto('void *GetApi(uint32_t version)'), 16) as Ptr;
  if (!table) throw new BackendUnavailableError(`onnxruntime ${version} does not offer C API version 16`, 'reinstall with `npm install`');
  const last = Math.max(...Object.values(ORT_API));
  const pointers = koffi.decode(table, 'void *', last + 1) as Ptr[];
  const api = { koffi, libDir } as Partial<Api>;
  for (const [name, index] of Object.entries(ORT_API) as [keyof typeof ORT_API, number][]) {
    let decl = PROTOS[name].replace(/\bf\(/, `${name}(`);
    // paths are ORTCHAR_T: wchar_t (UTF-16) on Windows
    if (process.platform === 'win32') decl = decl.replace(/const char \*(path|prefix)/, 'const char16_t *$1');
    const proto = koffi.proto(decl);
    (api as Record<string, unknown>)[name] = koffi.decode(pointers[index], proto) as Fn;
  }
  const full = api as Api;
  const out: [Ptr] = [null];
  check(full, full.CreateEnv(3, 'aivmm', out)); // ORT_LOGGING_LEVEL_ERROR
  full.env = out[0];
  check(full, full.GetAllocatorWithDefaultOptions(out));
  full.allocator = out[0];
  check(full, full.CreateCpuMemoryInfo(ORT_DEVICE_ALLOCATOR, ORT_MEM_TYPE_DEFAULT, out));
  full.cpuMemory = out[0];
  return full;
}

export function loadOrtCapi(): Promise<Api> {
  apiPromise ??= loadApi().catch((err: unknown) => {
    apiPromise = undefined;
    throw err;
  });
  return apiPromise;
}

/** onnxruntime's message without its source location and code prefix ("/…/x.cc:12 f() [ONNXRuntimeError] : 1 : FAIL : "). */
export function ortMessage(raw: string): string {
  const m = /\[ONNXRuntimeError\] : \d+ : [A-Z_]+ : ([\s\S]*)$/.exec(raw);
  return (m?.[1] ?? raw).trim().replace(/\s*\n\s*/g, ' ');
}

/** Throws the message of a non-null OrtStatus (and frees it). */
function check(api: Api, status: unknown): void {
  if (!status) return;
  const message = ortMessage(api.GetErrorMessage(status) as string);
  api.ReleaseStatus(status);
  throw new Error(message);
}

function readString(api: Api, p: Ptr): string {
  const s = api.koffi.decode(p, 'char', -1) as string;
  check(api, api.AllocatorFree(api.allocator, p));
  return s;
}

function tensorShape(api: Api, info: Ptr): { type: number; dims: (number | string)[] } {
  const n: [number] = [0];
  const t: [number] = [0];
  check(api, api.GetTensorElementType(info, t));
  check(api, api.GetDimensionsCount(info, n));
  const dims = new BigInt64Array(n[0]);
  if (n[0] > 0) check(api, api.GetDimensions(info, dims, n[0]));
  // n `const char *` written by onnxruntime into memory of ours, read back one by one
  const symbols = Buffer.alloc(Math.max(1, n[0]) * 8);
  if (n[0] > 0) check(api, api.GetSymbolicDimensions(info, symbols, n[0]));
  return {
    type: t[0],
    dims: [...dims].map((d, i) => {
      if (d >= 0n) return Number(d);
      const name = api.koffi.decode(symbols, i * 8, 'const char *') as string | null;
      return name || -1;
    }),
  };
}

function specOf(api: Api, session: Ptr, i: number, output: boolean): TensorSpec {
  const out: [Ptr] = [null];
  check(api, (output ? api.SessionGetOutputName : api.SessionGetInputName)(session, i, api.allocator, out));
  const name = readString(api, out[0]);
  check(api, (output ? api.SessionGetOutputTypeInfo : api.SessionGetInputTypeInfo)(session, i, out));
  const typeInfo = out[0];
  try {
    const kind: [number] = [0];
    check(api, api.GetOnnxTypeFromTypeInfo(typeInfo, kind));
    if (kind[0] !== ONNX_TYPE_TENSOR) return { name, type: 'non-tensor', shape: [] };
    check(api, api.CastTypeInfoToTensorInfo(typeInfo, out)); // owned by typeInfo
    const { type, dims } = tensorShape(api, out[0]);
    return { name, type: ELEMENT_NAME.get(type) ?? `onnx-type-${type}`, shape: dims };
  } finally {
    api.ReleaseTypeInfo(typeInfo);
  }
}

function bytesOf(data: TypedData): Uint8Array {
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

/** Device memory that bound inputs and outputs live in: the CUDA device through the CUDA runtime, or host memory. */
interface DeviceMemory {
  readonly info: Ptr;
  alloc(bytes: number): Ptr;
  free(p: Ptr): void;
  upload(dst: Ptr, src: Uint8Array): void;
  download(src: Ptr, dst: Uint8Array): void;
  dispose(): void;
}

function hostMemory(api: Api): DeviceMemory {
  const k = api.koffi;
  return {
    info: api.cpuMemory,
    alloc: (bytes) => k.alloc('uint8_t', Math.max(1, bytes)) as Ptr,
    free: (p) => k.free(p),
    upload: (dst, src) => new Uint8Array(k.view(dst, src.byteLength)).set(src),
    download: (src, dst) => dst.set(new Uint8Array(k.view(src, dst.byteLength))),
    dispose: () => undefined,
  };
}

/** The CUDA runtime the CUDA provider was linked against (already loaded by the session: found by soname). */
function cudaMemory(api: Api, deviceId: number): DeviceMemory {
  const k = api.koffi;
  const needed = readElfDynamic(join(api.libDir, 'libonnxruntime_providers_cuda.so'))?.needed ?? [];
  const soname = needed.find((n) => /^libcudart\.so\.\d+$/.test(n)) ?? 'libcudart.so';
  const lib = k.load(soname);
  const setDevice = lib.func('int cudaSetDevice(int device)');
  const malloc = lib.func('int cudaMalloc(_Out_ void **p, size_t bytes)');
  const free = lib.func('int cudaFree(void *p)');
  const memcpy = lib.func('int cudaMemcpy(void *dst, const void *src, size_t bytes, int kind)');
  const errorString = lib.func('const char *cudaGetErrorString(int code)');
  const cuda = (what: string, code: unknown): void => {
    if (code !== 0) throw new InferenceError(`${what} failed: ${errorString(code) as string}`);
  };
  const out: [Ptr] = [null];
  check(api, api.CreateMemoryInfo('Cuda', ORT_DEVICE_ALLOCATOR, deviceId, ORT_MEM_TYPE_DEFAULT, out));
  const info = out[0];
  cuda('cudaSetDevice', setDevice(deviceId));
  return {
    info,
    alloc: (bytes) => {
      const p: [Ptr] = [null];
      cuda('cudaMalloc', malloc(p, Math.max(1, bytes)));
      return p[0];
    },
    free: (p) => cuda('cudaFree', free(p)),
    upload: (dst, src) => cuda('cudaMemcpy', memcpy(dst, src, src.byteLength, 1)),
    download: (src, dst) => cuda('cudaMemcpy', memcpy(dst, src, dst.byteLength, 2)),
    dispose: () => api.ReleaseMemoryInfo(info),
  };
}

/** Which provider options go through the C API: every key of the CUDA/TensorRT EP except `deviceId`. */
export function needsCapi(target: OrtTarget, opts: LoadOptions): boolean {
  if (target.provider !== 'cuda' && target.provider !== 'tensorrt') return false;
  return Object.keys(opts.epOptions ?? {}).some((k) => !k.includes('.') && k !== 'deviceId');
}

/** The device buffers bound to the session for one set of input shapes (captured as its CUDA graph). */
interface Binding {
  key: string;
  binding: Ptr;
  runOptions: Ptr;
  inputs: { name: string; ptr: Ptr; value: Ptr; bytes: number }[];
  outputs: { name: string; ptr: Ptr; value: Ptr; type: ElementType; dims: number[]; bytes: number }[];
}

/**
 * `bound`: inputs and outputs live in device buffers bound once (needed by CUDA graphs). A new set of input
 * shapes reopens the onnxruntime session: a second captured graph in one session (run option gpu_graph_id)
 * broke the first on the H200 (replaying graph 0 after graph 1 was captured: CUDA error 700, illegal memory
 * access), so a bound session holds one graph at a time. Default: bound when CUDA graphs are asked for.
 */
export interface CapiOptions {
  bound?: boolean;
}

class CapiSession implements Session {
  readonly inputs: TensorSpec[];
  readonly outputs: TensorSpec[];
  private current: Binding | undefined;
  private memory: DeviceMemory | undefined;
  private disposed = false;

  constructor(
    private readonly api: Api,
    private session: Ptr,
    private readonly reopen: () => Ptr,
    readonly target: OrtTarget,
    private readonly bound: boolean,
    private readonly profiling: boolean,
  ) {
    const n: [number] = [0];
    check(api, api.SessionGetInputCount(session, n));
    this.inputs = Array.from({ length: n[0] }, (_, i) => specOf(api, session, i, false));
    check(api, api.SessionGetOutputCount(session, n));
    this.outputs = Array.from({ length: n[0] }, (_, i) => specOf(api, session, i, true));
  }

  /**
   * Runs on the calling thread, synchronously. Through koffi's async calls, which hop between libuv's
   * threads, every CUDA session with a provider option crashed the process on the H200 (the CUDA EP keeps
   * per-thread state, captured graphs included). Requests in flight together therefore need one session per
   * worker thread, as `bench --concurrency` opens them.
   */
  run(feeds: Readonly<Record<string, HostTensor>>): Promise<Record<string, HostTensor>> {
    if (this.disposed) return Promise.reject(new InferenceError('the session was disposed'));
    if (!this.session) return Promise.reject(new InferenceError('the session could not be reopened for a new input shape'));
    // onnxruntime copies exactly what the dims say: data of another size would be read or written past its end
    for (const [name, t] of Object.entries(feeds)) {
      const elements = t.dims.reduce((a, b) => a * b, 1);
      const bytes = ELEMENT_BYTES[t.type];
      if (bytes === undefined || !(t.type in ELEMENT)) return Promise.reject(new InferenceError(`input '${name}': element type ${t.type} is not supported here`));
      if (!t.dims.every((d) => Number.isInteger(d) && d >= 0) || elements * bytes !== t.data.byteLength) {
        return Promise.reject(new InferenceError(`input '${name}': ${t.data.byteLength} bytes of data for dims [${t.dims.join(', ')}] (${t.type}: ${elements * bytes} bytes)`, 'the data must hold exactly the elements its dims name'));
      }
    }
    return this.bound ? this.runBound(feeds) : this.runPlain(feeds);
  }

  private async runPlain(feeds: Readonly<Record<string, HostTensor>>): Promise<Record<string, HostTensor>> {
    const api = this.api;
    const names = Object.keys(feeds);
    const values: Ptr[] = [];
    const outNames = this.outputs.map((o) => o.name);
    const outSlots = Buffer.alloc(Math.max(1, outNames.length) * 8); // OrtValue* per output, filled by Run
    const outValues: Ptr[] = [];
    try {
      for (const name of names) values.push(this.hostValue(feeds[name] as HostTensor));
      try {
        check(api, api.Run(this.session, null, names, values, names.length, outNames, outNames.length, outSlots));
      } catch (err) {
        throw new InferenceError(`inference failed: ${errorMessage(err)}`, 'check the input names, shapes and types against the model (`aivmm run --help`)', { cause: err });
      }
      for (let i = 0; i < outNames.length; i++) outValues.push(api.koffi.decode(outSlots, i * 8, 'void *') as Ptr);
      const result: Record<string, HostTensor> = {};
      for (const [i, name] of outNames.entries()) result[name] = this.readHostValue(outValues[i]);
      return result;
    } finally {
      for (const v of [...values, ...outValues]) if (v) api.ReleaseValue(v);
    }
  }

  /** A CPU tensor allocated by onnxruntime, filled with the feed's data. */
  private hostValue(t: HostTensor): Ptr {
    const api = this.api;
    const out: [Ptr] = [null];
    check(api, api.CreateTensorAsOrtValue(api.allocator, BigInt64Array.from(t.dims.map(BigInt)), t.dims.length, ELEMENT[t.type], out));
    const value = out[0];
    const bytes = bytesOf(t.data);
    if (bytes.byteLength > 0) {
      check(api, api.GetTensorMutableData(value, out));
      new Uint8Array(api.koffi.view(out[0], bytes.byteLength)).set(bytes);
    }
    return value;
  }

  private readHostValue(value: Ptr): HostTensor {
    const api = this.api;
    const out: [Ptr] = [null];
    check(api, api.GetTensorTypeAndShape(value, out));
    let shape: { type: number; dims: (number | string)[] };
    try {
      shape = tensorShape(api, out[0]);
    } finally {
      api.ReleaseTensorTypeAndShapeInfo(out[0]);
    }
    const type = ELEMENT_NAME.get(shape.type);
    if (!type) throw new InferenceError(`the model returned an element type aivmm does not read (ONNX type ${shape.type})`);
    const dims = shape.dims.map(Number);
    const bytes = dims.reduce((a, b) => a * b, 1) * ELEMENT_BYTES[type];
    const copy = new ArrayBuffer(bytes);
    if (bytes > 0) {
      check(api, api.GetTensorMutableData(value, out));
      new Uint8Array(copy).set(new Uint8Array(api.koffi.view(out[0], bytes)));
    }
    return { type, dims, data: typedArrayOf(type, copy) };
  }

  private async runBound(feeds: Readonly<Record<string, HostTensor>>): Promise<Record<string, HostTensor>> {
    const b = this.bindingFor(feeds);
    const memory = this.memory as DeviceMemory;
    for (const input of b.inputs) memory.upload(input.ptr, bytesOf((feeds[input.name] as HostTensor).data));
    try {
      check(this.api, this.api.RunWithBinding(this.session, b.runOptions, b.binding));
    } catch (err) {
      throw new InferenceError(`inference failed: ${errorMessage(err)}`, 'a CUDA graph needs every node on the CUDA EP (`aivmm devices --probe` shows where nodes run)', { cause: err });
    }
    const result: Record<string, HostTensor> = {};
    for (const o of b.outputs) {
      const copy = new ArrayBuffer(o.bytes);
      memory.download(o.ptr, new Uint8Array(copy));
      result[o.name] = { type: o.type, dims: o.dims, data: typedArrayOf(o.type, copy) };
    }
    return result;
  }

  private bindingFor(feeds: Readonly<Record<string, HostTensor>>): Binding {
    const api = this.api;
    const names = this.inputs.map((i) => i.name);
    for (const name of Object.keys(feeds)) {
      if (!names.includes(name)) throw new InferenceError(`the model has no input '${name}'`, `its inputs: ${names.join(', ')}`);
    }
    const key = names.map((n) => `${n}:${feeds[n]?.type}[${feeds[n]?.dims.join(',')}]`).join(';');
    if (this.current?.key === key) return this.current;
    // Symbolic output dims are taken from input dims of the same name (e.g. "batch").
    const symbols = new Map<string, number>();
    for (const spec of this.inputs) {
      const feed = feeds[spec.name];
      if (!feed) throw new InferenceError(`input '${spec.name}' is missing`, 'a bound session needs every input');
      spec.shape.forEach((d, i) => {
        if (typeof d === 'string' && feed.dims[i] !== undefined) symbols.set(d, feed.dims[i] as number);
      });
    }
    if (this.current) {
      // another shape: a fresh session (and graph) for it, after the old one is let go
      this.releaseBinding(this.current);
      this.current = undefined;
      this.api.ReleaseSession(this.session);
      this.session = null;
      this.session = this.reopen();
    }
    this.memory ??= this.target.provider === 'cuda' || this.target.provider === 'tensorrt' ? cudaMemory(api, this.target.deviceId ?? 0) : hostMemory(api);
    const memory = this.memory;
    const out: [Ptr] = [null];
    const b: Binding = { key, binding: null, runOptions: null, inputs: [], outputs: [] };
    try {
      check(api, api.CreateIoBinding(this.session, out));
      b.binding = out[0];
      check(api, api.CreateRunOptions(out));
      b.runOptions = out[0];
      for (const spec of this.inputs) {
        const feed = feeds[spec.name] as HostTensor;
        const bytes = feed.data.byteLength;
        const ptr = memory.alloc(bytes);
        const entry = { name: spec.name, ptr, value: null as Ptr, bytes };
        b.inputs.push(entry);
        check(api, api.CreateTensorWithDataAsOrtValue(memory.info, ptr, bytes, BigInt64Array.from(feed.dims.map(BigInt)), feed.dims.length, ELEMENT[feed.type], out));
        entry.value = out[0];
        check(api, api.BindInput(b.binding, spec.name, entry.value));
      }
      for (const spec of this.outputs) {
        const type = spec.type as ElementType;
        if (!(type in ELEMENT)) throw new InferenceError(`output '${spec.name}' has type ${spec.type}, which a bound session cannot hold`);
        const dims = spec.shape.map((d) => (typeof d === 'number' && d >= 0 ? d : typeof d === 'string' ? symbols.get(d) : undefined));
        if (dims.some((d) => d === undefined)) {
          throw new UsageError(`output '${spec.name}' has shape [${spec.shape.join(', ')}], which does not follow from the input shapes`, 'CUDA graphs need outputs whose dimensions are fixed or named like an input dimension');
        }
        const fixed = dims as number[];
        const bytes = fixed.reduce((a, c) => a * c, 1) * ELEMENT_BYTES[type];
        const ptr = memory.alloc(bytes);
        const entry = { name: spec.name, ptr, value: null as Ptr, type, dims: fixed, bytes };
        b.outputs.push(entry);
        check(api, api.CreateTensorWithDataAsOrtValue(memory.info, ptr, bytes, BigInt64Array.from(fixed.map(BigInt)), fixed.length, ELEMENT[type], out));
        entry.value = out[0];
        check(api, api.BindOutput(b.binding, spec.name, entry.value));
      }
    } catch (err) {
      this.releaseBinding(b);
      if (err instanceof UsageError || err instanceof InferenceError) throw err;
      throw new InferenceError(`could not bind the inputs and outputs: ${errorMessage(err)}`, undefined, { cause: err });
    }
    this.current = b;
    return b;
  }

  private releaseBinding(b: Binding): void {
    const api = this.api;
    if (b.binding) api.ReleaseIoBinding(b.binding);
    if (b.runOptions) api.ReleaseRunOptions(b.runOptions);
    for (const io of [...b.inputs, ...b.outputs]) {
      if (io.value) api.ReleaseValue(io.value);
      this.memory?.free(io.ptr);
    }
  }

  async placement(): Promise<Record<string, number> | undefined> {
    if (!this.profiling) return undefined;
    const { readFile, rm } = await import('node:fs/promises');
    const { countPlacement } = await import('./ort.js');
    const out: [Ptr] = [null];
    check(this.api, this.api.SessionEndProfiling(this.session, this.api.allocator, out));
    const path = readString(this.api, out[0]);
    try {
      return countPlacement(JSON.parse(await readFile(path, 'utf8')) as unknown);
    } finally {
      await rm(path, { force: true });
    }
  }

  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    if (this.current) this.releaseBinding(this.current);
    this.current = undefined;
    this.memory?.dispose();
    if (this.session) this.api.ReleaseSession(this.session);
  }
}

function appendProvider(api: Api, options: Ptr, target: OrtTarget, provider: Record<string, string>): void {
  if (target.provider === 'cpu') {
    if (Object.keys(provider).length > 0) throw new UsageError(`the CPU EP takes no provider options (${Object.keys(provider).join(', ')})`);
    return;
  }
  if (target.provider !== 'cuda' && target.provider !== 'tensorrt') throw new UsageError(`provider ${target.provider} is not reached through onnxruntime's C API`);
  const cuda = target.provider === 'cuda';
  const keys = ['device_id', ...Object.keys(provider)];
  const values = [String(target.deviceId ?? 0), ...Object.values(provider)];
  const out: [Ptr] = [null];
  check(api, (cuda ? api.CreateCUDAProviderOptions : api.CreateTensorRTProviderOptions)(out));
  const po = out[0];
  try {
    try {
      check(api, (cuda ? api.UpdateCUDAProviderOptions : api.UpdateTensorRTProviderOptions)(po, keys, values, keys.length));
    } catch (err) {
      const message = errorMessage(err);
      if (/unknown|invalid|wrong|parse|unrecognized|not supported/i.test(message) && !/load|\.so|librar/i.test(message)) {
        throw new UsageError(`${target.provider.toUpperCase()} EP option rejected: ${message}`, `provider option keys are onnxruntime's (e.g. enable_cuda_graph=1, cudnn_conv_algo_search=HEURISTIC)`);
      }
      throw err;
    }
    check(api, (cuda ? api.SessionOptionsAppendExecutionProvider_CUDA_V2 : api.SessionOptionsAppendExecutionProvider_TensorRT_V2)(options, po));
  } finally {
    (cuda ? api.ReleaseCUDAProviderOptions : api.ReleaseTensorRTProviderOptions)(po);
  }
}

/** Whether these provider options ask for CUDA graphs (which need bound device buffers). */
function wantsGraph(provider: Record<string, string>): boolean {
  return ['enable_cuda_graph', 'trt_cuda_graph_enable'].some((k) => /^(1|true)$/i.test(provider[k] ?? ''));
}

/** Creates one onnxruntime session (the same options each time: a bound session reopens on a new shape). */
function createSession(api: Api, model: string | Uint8Array, target: OrtTarget, opts: LoadOptions, provider: Record<string, string>, config: Record<string, string>, profilePrefix: string | undefined): Ptr {
  const out: [Ptr] = [null];
  check(api, api.CreateSessionOptions(out));
  const options = out[0];
  try {
    if (opts.threads !== undefined) check(api, api.SetIntraOpNumThreads(options, opts.threads));
    if (opts.graphOptimizationLevel) check(api, api.SetSessionGraphOptimizationLevel(options, OPT_LEVEL[opts.graphOptimizationLevel]));
    for (const [k, v] of Object.entries(config)) check(api, api.AddSessionConfigEntry(options, k, v));
    if (profilePrefix) check(api, api.EnableProfiling(options, profilePrefix));
    try {
      appendProvider(api, options, target, provider);
    } catch (err) {
      if (err instanceof UsageError) throw err;
      const message = errorMessage(err);
      const hint = /Failed to load library/i.test(message)
        ? '`aivmm setup cuda` installs the provider libraries; `aivmm devices` names what else is missing'
        : 'run `aivmm devices --probe` to see which backends work here';
      throw new BackendUnavailableError(`${target.provider} execution provider failed: ${message}`, hint, { cause: err });
    }
    try {
      if (typeof model === 'string') check(api, api.CreateSession(api.env, model, options, out));
      else check(api, api.CreateSessionFromArray(api.env, model, model.byteLength, options, out));
    } catch (err) {
      const message = errorMessage(err);
      if (target.provider !== 'cpu' && /provider|cuda|tensorrt|fallback|graph/i.test(message)) {
        throw new BackendUnavailableError(`${target.provider} execution provider failed: ${message}`, 'run `aivmm devices --probe` to see which backends work here', { cause: err });
      }
      throw new InferenceError(`could not create a session: ${message}`, 'is the file a valid ONNX model?', { cause: err });
    }
    return out[0];
  } finally {
    api.ReleaseSessionOptions(options);
  }
}

/**
 * Opens a session through the C API. Provider options are onnxruntime's own keys (`enable_cuda_graph`,
 * `cudnn_conv_algo_search`, `trt_fp16_enable`, …); keys with a dot are session configuration entries.
 */
export async function loadCapiSession(model: string | Uint8Array, target: OrtTarget, opts: LoadOptions = {}, capi: CapiOptions = {}): Promise<Session> {
  const api = await loadOrtCapi();
  const provider: Record<string, string> = {};
  const config: Record<string, string> = {};
  for (const [k, v] of Object.entries(opts.epOptions ?? {})) {
    if (k.includes('.')) config[k] = String(v);
    else if (k !== 'deviceId') provider[k] = String(v);
  }
  if (opts.strictPlacement && target.provider !== 'cpu') config['session.disable_cpu_ep_fallback'] = '1';
  if (opts.spinning === false) config['session.intra_op.allow_spinning'] = '0';
  let profilePrefix: string | undefined;
  if (opts.profile) {
    const { randomBytes } = await import('node:crypto');
    profilePrefix = join(opts.profile.dir, `aivmm-profile-${randomBytes(4).toString('hex')}`);
  }
  const open = (): Ptr => createSession(api, model, target, opts, provider, config, profilePrefix);
  return new CapiSession(api, open(), open, target, capi.bound ?? wantsGraph(provider), profilePrefix !== undefined);
}
