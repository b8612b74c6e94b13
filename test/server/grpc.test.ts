/**
 * KServe v2 gRPC against a real server on 127.0.0.1 with a grpc-js client: the .proto against the spec's
 * field table, every RPC, raw and typed inference bit-exact with an in-process session, bad inputs as
 * status codes, auth, a full queue, deadlines, cancellation and shutdown.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Ajv } from 'ajv';
import { credentials, loadPackageDefinition, Metadata, status, type Client, type ServiceError } from '@grpc/grpc-js';
import type { MessageTypeDefinition } from '@grpc/proto-loader';
import { inferenceProto } from '../../src/server/grpc/proto.js';
import { grpcCodeOf } from '../../src/server/grpc/service.js';
import { toInferRequest, type GrpcContents, type GrpcInferRequest } from '../../src/server/grpc/tensors.js';
import { decodeInputs } from '../../src/core/serve/tensors.js';
import { BIN, spawnCli } from '../helpers/run-cli.js';
import { occupy, referenceRun, seeded, spawnServe, startTestServer, tmp, until, MLP, TINY, type TestServer } from './helpers.js';

/**
 * Transcribed from the specification, not from our .proto: the Open Inference Protocol's gRPC messages
 * (github.com/kserve/open-inference-protocol, specification/protocol/inference_grpc.md and
 * open_inference_grpc.proto: InferParameter with double_param and uint64_param) and Triton's extensions
 * (github.com/triton-inference-server/common protobuf/grpc_service.proto; server docs
 * protocol/extension_statistics.md and extension_model_repository.md; model_config.proto for ModelConfig).
 * A field renamed, renumbered or
 * retyped in grpc_predict_v2.proto fails here, since it would break Triton's clients and perf_analyzer.
 */
const SPEC: Record<string, string[]> = {
  ServerLiveRequest: [],
  ServerLiveResponse: ['bool live = 1'],
  ServerReadyRequest: [],
  ServerReadyResponse: ['bool ready = 1'],
  ModelReadyRequest: ['string name = 1', 'string version = 2'],
  ModelReadyResponse: ['bool ready = 1'],
  ServerMetadataRequest: [],
  ServerMetadataResponse: ['string name = 1', 'string version = 2', 'repeated string extensions = 3'],
  ModelMetadataRequest: ['string name = 1', 'string version = 2'],
  ModelMetadataResponse: ['string name = 1', 'repeated string versions = 2', 'string platform = 3', 'repeated TensorMetadata inputs = 4', 'repeated TensorMetadata outputs = 5'],
  'ModelMetadataResponse.TensorMetadata': ['string name = 1', 'string datatype = 2', 'repeated int64 shape = 3'],
  ModelInferRequest: ['string model_name = 1', 'string model_version = 2', 'string id = 3', 'map<string, InferParameter> parameters = 4', 'repeated InferInputTensor inputs = 5', 'repeated InferRequestedOutputTensor outputs = 6', 'repeated bytes raw_input_contents = 7'],
  'ModelInferRequest.InferInputTensor': ['string name = 1', 'string datatype = 2', 'repeated int64 shape = 3', 'map<string, InferParameter> parameters = 4', 'InferTensorContents contents = 5'],
  'ModelInferRequest.InferRequestedOutputTensor': ['string name = 1', 'map<string, InferParameter> parameters = 2'],
  ModelInferResponse: ['string model_name = 1', 'string model_version = 2', 'string id = 3', 'map<string, InferParameter> parameters = 4', 'repeated InferOutputTensor outputs = 5', 'repeated bytes raw_output_contents = 6'],
  'ModelInferResponse.InferOutputTensor': ['string name = 1', 'string datatype = 2', 'repeated int64 shape = 3', 'map<string, InferParameter> parameters = 4', 'InferTensorContents contents = 5'],
  InferParameter: ['bool bool_param = 1', 'int64 int64_param = 2', 'string string_param = 3', 'double double_param = 4', 'uint64 uint64_param = 5'],
  InferTensorContents: ['repeated bool bool_contents = 1', 'repeated int32 int_contents = 2', 'repeated int64 int64_contents = 3', 'repeated uint32 uint_contents = 4', 'repeated uint64 uint64_contents = 5', 'repeated float fp32_contents = 6', 'repeated double fp64_contents = 7', 'repeated bytes bytes_contents = 8'],
  // Triton's ModelConfig RPC; the messages a subset of model_config.proto (the fields numbered as there)
  ModelConfigRequest: ['string name = 1', 'string version = 2'],
  ModelConfigResponse: ['ModelConfig config = 1'],
  ModelConfig: ['string name = 1', 'string platform = 2', 'int32 max_batch_size = 4', 'repeated ModelInput input = 5', 'repeated ModelOutput output = 6', 'string backend = 17'],
  ModelInput: ['string name = 1', 'DataType data_type = 2', 'repeated int64 dims = 4'],
  ModelOutput: ['string name = 1', 'DataType data_type = 2', 'repeated int64 dims = 3'],
  'enum DataType': ['TYPE_INVALID = 0', 'TYPE_BOOL = 1', 'TYPE_UINT8 = 2', 'TYPE_UINT16 = 3', 'TYPE_UINT32 = 4', 'TYPE_UINT64 = 5', 'TYPE_INT8 = 6', 'TYPE_INT16 = 7', 'TYPE_INT32 = 8', 'TYPE_INT64 = 9', 'TYPE_FP16 = 10', 'TYPE_FP32 = 11', 'TYPE_FP64 = 12', 'TYPE_STRING = 13', 'TYPE_BF16 = 14'],
  ModelStatisticsRequest: ['string name = 1', 'string version = 2'],
  StatisticDuration: ['uint64 count = 1', 'uint64 ns = 2'],
  InferStatistics: ['StatisticDuration success = 1', 'StatisticDuration fail = 2', 'StatisticDuration queue = 3', 'StatisticDuration compute_input = 4', 'StatisticDuration compute_infer = 5', 'StatisticDuration compute_output = 6'],
  InferBatchStatistics: ['uint64 batch_size = 1', 'StatisticDuration compute_input = 2', 'StatisticDuration compute_infer = 3', 'StatisticDuration compute_output = 4'],
  ModelStatistics: ['string name = 1', 'string version = 2', 'uint64 last_inference = 3', 'uint64 inference_count = 4', 'uint64 execution_count = 5', 'InferStatistics inference_stats = 6', 'repeated InferBatchStatistics batch_stats = 7'],
  ModelStatisticsResponse: ['repeated ModelStatistics model_stats = 1'],
  ModelRepositoryParameter: ['bool bool_param = 1', 'int64 int64_param = 2', 'string string_param = 3', 'bytes bytes_param = 4'],
  RepositoryIndexRequest: ['string repository_name = 1', 'bool ready = 2'],
  RepositoryIndexResponse: ['repeated ModelIndex models = 1'],
  'RepositoryIndexResponse.ModelIndex': ['string name = 1', 'string version = 2', 'string state = 3', 'string reason = 4'],
  RepositoryModelLoadRequest: ['string repository_name = 1', 'string model_name = 2', 'map<string, ModelRepositoryParameter> parameters = 3'],
  RepositoryModelLoadResponse: [],
  RepositoryModelUnloadRequest: ['string repository_name = 1', 'string model_name = 2', 'map<string, ModelRepositoryParameter> parameters = 3'],
  RepositoryModelUnloadResponse: [],
};
/** The spec's service: rpc name → request and response message (paths are /inference.GRPCInferenceService/<name>). */
const SPEC_RPCS: Record<string, [string, string]> = {
  ServerLive: ['ServerLiveRequest', 'ServerLiveResponse'],
  ServerReady: ['ServerReadyRequest', 'ServerReadyResponse'],
  ModelReady: ['ModelReadyRequest', 'ModelReadyResponse'],
  ServerMetadata: ['ServerMetadataRequest', 'ServerMetadataResponse'],
  ModelMetadata: ['ModelMetadataRequest', 'ModelMetadataResponse'],
  ModelInfer: ['ModelInferRequest', 'ModelInferResponse'],
  ModelConfig: ['ModelConfigRequest', 'ModelConfigResponse'],
  ModelStatistics: ['ModelStatisticsRequest', 'ModelStatisticsResponse'],
  RepositoryIndex: ['RepositoryIndexRequest', 'RepositoryIndexResponse'],
  RepositoryModelLoad: ['RepositoryModelLoadRequest', 'RepositoryModelLoadResponse'],
  RepositoryModelUnload: ['RepositoryModelUnloadRequest', 'RepositoryModelUnloadResponse'],
};

interface FieldDesc {
  name: string;
  number: number;
  label: string;
  type: string;
  typeName: string;
}
interface MsgDesc {
  name: string;
  field: FieldDesc[];
  nestedType: MsgDesc[];
  options: { mapEntry?: boolean } | null;
}

/** Our .proto's messages as the spec writes fields ('repeated int64 shape = 3', 'map<string, X> parameters = 4'). */
function describe(): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  const walk = (m: MsgDesc, prefix: string): void => {
    const maps = new Map(m.nestedType.filter((n) => n.options?.mapEntry).map((n) => [n.name, n]));
    out[prefix + m.name] = m.field.map((f) => {
      const entry = maps.get(f.typeName);
      if (entry) {
        const [k, v] = entry.field;
        return `map<${k!.type.slice(5).toLowerCase()}, ${v!.typeName}> ${f.name} = ${f.number}`;
      }
      const type = f.type === 'TYPE_MESSAGE' || f.type === 'TYPE_ENUM' ? f.typeName : f.type.slice(5).toLowerCase();
      return `${f.label === 'LABEL_REPEATED' ? 'repeated ' : ''}${type} ${f.name} = ${f.number}`;
    });
    for (const n of m.nestedType) if (!n.options?.mapEntry) walk(n, `${prefix}${m.name}.`);
  };
  for (const [k, v] of Object.entries(inferenceProto())) {
    if (!k.startsWith('inference.') || !('type' in v)) continue;
    if (String(v.format).includes('EnumDescriptorProto')) {
      const e = v.type as unknown as { name: string; value: { name: string; number: number }[] };
      out[`enum ${e.name}`] = e.value.map((x) => `${x.name} = ${x.number}`);
    } else walk((v as MessageTypeDefinition<object, object>).type as unknown as MsgDesc, '');
  }
  return out;
}

test('grpc_predict_v2.proto has the spec\'s package, service, messages and field numbers', () => {
  assert.deepEqual(describe(), SPEC);
  const service = inferenceProto()['inference.GRPCInferenceService'] as Record<string, { path: string; requestStream: boolean; responseStream: boolean; requestType: { type: { name: string } }; responseType: { type: { name: string } } }>;
  assert.deepEqual(
    Object.fromEntries(Object.entries(service).map(([n, m]) => [n, [m.requestType.type.name, m.responseType.type.name]])),
    SPEC_RPCS,
  );
  for (const [n, m] of Object.entries(service)) {
    assert.equal(m.path, `/inference.GRPCInferenceService/${n}`);
    assert.equal(m.requestStream || m.responseStream, false);
  }
});

test('HTTP statuses map onto the gRPC codes Triton uses', () => {
  assert.deepEqual([400, 401, 404, 413, 499, 501, 503, 504, 500].map(grpcCodeOf), [
    status.INVALID_ARGUMENT,
    status.UNAUTHENTICATED,
    status.NOT_FOUND,
    status.RESOURCE_EXHAUSTED,
    status.CANCELLED,
    status.UNIMPLEMENTED,
    status.UNAVAILABLE,
    status.DEADLINE_EXCEEDED,
    status.INTERNAL,
  ]);
});

test('typed contents of every served datatype become the exact tensor (int64 past 2^53 too); ranges and fields are checked', () => {
  const specs = [
    { name: 'ids', type: 'int64' as const, shape: [-1] },
    { name: 'mask', type: 'bool' as const, shape: [2] },
    { name: 'q', type: 'int8' as const, shape: [2] },
    { name: 'px', type: 'uint8' as const, shape: [2] },
    { name: 'n', type: 'int32' as const, shape: [1] },
  ];
  const empty: GrpcContents = { bool_contents: [], int_contents: [], int64_contents: [], uint_contents: [], uint64_contents: [], fp32_contents: [], fp64_contents: [], bytes_contents: [] };
  const input = (name: string, datatype: string, shape: number[], contents: Partial<GrpcContents>) => ({ name, datatype, shape: shape.map(String), parameters: {}, contents: { ...empty, ...contents } });
  const req = (inputs: GrpcInferRequest['inputs']): GrpcInferRequest => ({ model_name: 'm', model_version: '', id: '', parameters: {}, inputs, outputs: [], raw_input_contents: [] });
  const big = '9007199254740993'; // 2^53 + 1: not a double
  const inputs = [
    input('ids', 'INT64', [3], { int64_contents: [big, '-5', '0'] }),
    input('mask', 'BOOL', [2], { bool_contents: [true, false] }),
    input('q', 'INT8', [2], { int_contents: [-128, 127] }),
    input('px', 'UINT8', [2], { uint_contents: [0, 255] }),
    input('n', 'INT32', [1], { int_contents: [-7] }),
  ];
  const { body, binary } = toInferRequest(req(inputs), specs);
  const feeds = decodeInputs(body, specs, [], binary);
  assert.deepEqual([...(feeds['ids']!.data as BigInt64Array)], [9007199254740993n, -5n, 0n]);
  assert.deepEqual([...(feeds['mask']!.data as Uint8Array)], [1, 0]);
  assert.deepEqual([...(feeds['q']!.data as Int8Array)], [-128, 127]);
  assert.deepEqual([...(feeds['px']!.data as Uint8Array)], [0, 255]);
  assert.deepEqual([...(feeds['n']!.data as Int32Array)], [-7]);
  assert.throws(() => toInferRequest(req([input('q', 'INT8', [2], { int_contents: [1, 128] })]), specs), /element 1 is 128, expected an integer in \[-128, 127\]/);
  assert.throws(() => toInferRequest(req([input('ids', 'INT64', [1], { int_contents: [1] })]), specs), /has int_contents; INT64 goes in contents.int64_contents/);
  assert.throws(() => toInferRequest(req([input('x', 'FP16', [1], {})]), specs), /FP16 has no typed contents/);
});

// ---- a real server and a grpc-js client ----

type Call = (req: unknown, opts?: { metadata?: Metadata; deadlineMs?: number }) => Promise<any>;
interface Rpc {
  client: Client;
  call(method: string): Call;
  /** The call object, for cancel(). */
  start(method: string, req: unknown): { done: Promise<any>; cancel: () => void; trailer: Promise<Metadata> };
}

function connect(address: string, key?: string): Rpc {
  const pkg = loadPackageDefinition(inferenceProto()) as unknown as { inference: { GRPCInferenceService: new (a: string, c: ReturnType<typeof credentials.createInsecure>, o?: object) => Client } };
  const client = new pkg.inference.GRPCInferenceService(address, credentials.createInsecure(), { 'grpc.max_receive_message_length': -1, 'grpc.max_send_message_length': -1 });
  const md = (extra?: Metadata): Metadata => {
    const m = extra ?? new Metadata();
    if (key !== undefined && !m.get('authorization').length) m.set('authorization', `Bearer ${key}`);
    return m;
  };
  const invoke = (method: string, req: unknown, opts: { metadata?: Metadata; deadlineMs?: number } = {}) => {
    let cancel = (): void => undefined;
    let trailer!: Promise<Metadata>;
    const done = new Promise<any>((resolve, reject) => {
      const fn = (client as unknown as Record<string, (...a: unknown[]) => { cancel(): void; on(e: 'status', f: (s: { metadata: Metadata }) => void): void }>)[method]!.bind(client);
      const c = fn(req, md(opts.metadata), opts.deadlineMs ? { deadline: Date.now() + opts.deadlineMs } : {}, (err: ServiceError | null, res: unknown) => (err ? reject(err) : resolve(res)));
      trailer = new Promise((r) => c.on('status', (st) => r(st.metadata)));
      cancel = () => c.cancel();
    });
    return { done, cancel: () => cancel(), trailer };
  };
  return { client, call: (method) => (req, opts) => invoke(method, req, opts).done, start: (method, req) => invoke(method, req) };
}

async function rejects(p: Promise<unknown>, code: status, details?: RegExp): Promise<ServiceError> {
  const err = await p.then(
    () => assert.fail(`expected gRPC status ${status[code]}`),
    (e: ServiceError) => e,
  );
  assert.equal(err.code, code, `${status[err.code]}: ${err.details}`);
  if (details) assert.match(err.details, details);
  return err;
}

const bytesOf = (a: ArrayBufferView): Buffer => Buffer.from(a.buffer, a.byteOffset, a.byteLength);
const f32 = (b: Buffer): Float32Array => new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
const MAX_BODY = 256 * 1024;

let t: TestServer;
let rpc: Rpc;
let cleanup: () => Promise<void>;

before(async () => {
  const d = await tmp();
  cleanup = d.cleanup;
  await writeFile(join(d.dir, 'tiny.onnx'), TINY);
  await writeFile(join(d.dir, 'mlp.onnx'), MLP);
  t = await startTestServer({ models: [{ name: 'tiny', path: join(d.dir, 'tiny.onnx') }, { name: 'mlp', path: join(d.dir, 'mlp.onnx') }], server: { maxBodyBytes: MAX_BODY, grpcPort: 0 } });
  assert.ok(t.server.grpc, 'the gRPC service started');
  rpc = connect(t.server.grpc.address);
});
after(async () => {
  rpc.client.close();
  await t.close();
  await cleanup();
});

test('health, server metadata and model readiness', async () => {
  assert.match(t.server.grpc!.address, /^127\.0\.0\.1:\d+$/);
  assert.deepEqual(await rpc.call('ServerLive')({}), { live: true });
  assert.deepEqual(await rpc.call('ServerReady')({}), { ready: true });
  const meta = await rpc.call('ServerMetadata')({});
  assert.equal(meta.name, 'aivmm');
  assert.equal(meta.version, 'test');
  assert.ok(meta.extensions.includes('model_repository'));
  assert.deepEqual(await rpc.call('ModelReady')({ name: 'tiny' }), { ready: true });
  assert.deepEqual(await rpc.call('ModelReady')({ name: 'tiny', version: '1' }), { ready: true });
  assert.deepEqual(await rpc.call('ModelReady')({ name: 'tiny', version: '7' }), { ready: false });
  await rejects(rpc.call('ModelReady')({ name: 'nope' }), status.NOT_FOUND, /unknown model 'nope'/);
});

test('model metadata shows symbolic dims as -1; an unknown version is NOT_FOUND', async () => {
  assert.deepEqual(await rpc.call('ModelMetadata')({ name: 'tiny' }), {
    name: 'tiny',
    versions: ['1'],
    platform: 'onnxruntime_onnx',
    inputs: [{ name: 'input', datatype: 'FP32', shape: ['-1', '3', '32', '32'] }],
    outputs: [{ name: 'probabilities', datatype: 'FP32', shape: ['-1', '10'] }],
  });
  assert.equal((await rpc.call('ModelMetadata')({ name: 'tiny', version: '1' })).name, 'tiny');
  await rejects(rpc.call('ModelMetadata')({ name: 'tiny', version: '2' }), status.NOT_FOUND, /no version 2/);
  assert.deepEqual(await rpc.call('ModelConfig')({ name: 'tiny' }), {
    config: {
      name: 'tiny',
      platform: 'onnxruntime_onnx',
      backend: 'onnxruntime',
      max_batch_size: 0,
      input: [{ name: 'input', data_type: 'TYPE_FP32', dims: ['-1', '3', '32', '32'] }],
      output: [{ name: 'probabilities', data_type: 'TYPE_FP32', dims: ['-1', '10'] }],
    },
  });
  await rejects(rpc.call('ModelConfig')({ name: 'nope' }), status.NOT_FOUND);
});

test('ModelInfer with raw_input_contents answers raw_output_contents bit-exact with the in-process session', async () => {
  const x = seeded(2 * 3072, 7);
  const ref = await referenceRun(TINY, { input: { type: 'float32', dims: [2, 3, 32, 32], data: x } });
  const call = rpc.start('ModelInfer', {
    model_name: 'tiny',
    id: 'req-1',
    // binary_data is REST's: over gRPC the answer is raw regardless, and the parameter is not an error
    inputs: [{ name: 'input', datatype: 'FP32', shape: [2, 3, 32, 32], parameters: { binary_data_size: { int64_param: x.byteLength } } }],
    outputs: [{ name: 'probabilities', parameters: { binary_data: { bool_param: false } } }],
    raw_input_contents: [bytesOf(x)],
  });
  const res = await call.done;
  assert.match(String((await call.trailer).get('server-timing')[0]), /queue;dur=[\d.]+, compute;dur=[\d.]+, overhead;dur=[\d.]+/);
  assert.equal(res.model_name, 'tiny');
  assert.equal(res.model_version, '1');
  assert.equal(res.id, 'req-1');
  assert.deepEqual(res.outputs.map((o: any) => [o.name, o.datatype, o.shape]), [['probabilities', 'FP32', ['2', '10']]]);
  assert.equal(res.raw_output_contents.length, 1);
  assert.deepEqual(f32(res.raw_output_contents[0]), ref['probabilities']);
});

test('ModelInfer with typed contents (fp32_contents) equals the raw answer and the in-process session', async () => {
  const x = seeded(16, 3);
  const ref = await referenceRun(MLP, { x: { type: 'float32', dims: [1, 16], data: x } });
  const typed = await rpc.call('ModelInfer')({ model_name: 'mlp', model_version: '1', inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 16], contents: { fp32_contents: Array.from(x) } }] });
  const raw = await rpc.call('ModelInfer')({ model_name: 'mlp', inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 16] }], raw_input_contents: [bytesOf(x)] });
  assert.deepEqual(f32(typed.raw_output_contents[0]), ref['y']);
  assert.deepEqual(typed.raw_output_contents, raw.raw_output_contents);
  assert.equal(typed.id, '');
});

test('bad inputs are INVALID_ARGUMENT naming the problem; an unknown model is NOT_FOUND', async () => {
  const infer = rpc.call('ModelInfer');
  const good = { name: 'input', datatype: 'FP32', shape: [1, 3, 32, 32] };
  const px = bytesOf(seeded(3072));
  await rejects(infer({ model_name: 'tiny', inputs: [{ ...good, shape: [1, 3, 224, 224] }], raw_input_contents: [px] }), status.INVALID_ARGUMENT, /shape \[1,3,224,224\]; the model expects \[-1,3,32,32\]/);
  await rejects(infer({ model_name: 'tiny', inputs: [{ ...good, datatype: 'FP64' }], raw_input_contents: [px] }), status.INVALID_ARGUMENT, /datatype FP64; the model expects FP32/);
  await rejects(infer({ model_name: 'tiny', inputs: [good], raw_input_contents: [px.subarray(0, 100)] }), status.INVALID_ARGUMENT, /raw_input_contents\[0\] has 100 bytes; shape \[1,3,32,32\] of FP32 needs 12288 bytes/);
  await rejects(infer({ model_name: 'tiny', inputs: [{ ...good, contents: { fp32_contents: [1, 2, 3] } }] }), status.INVALID_ARGUMENT, /contents.fp32_contents has 3 elements; shape \[1,3,32,32\] of FP32 needs 3072 elements/);
  await rejects(infer({ model_name: 'tiny', inputs: [{ ...good, contents: { int_contents: [1] } }] }), status.INVALID_ARGUMENT, /has int_contents; FP32 goes in contents.fp32_contents/);
  await rejects(infer({ model_name: 'tiny', inputs: [good] }), status.INVALID_ARGUMENT, /input 'input' has no contents/);
  await rejects(infer({ model_name: 'tiny', inputs: [good, good], raw_input_contents: [px] }), status.INVALID_ARGUMENT, /1 raw_input_contents for 2 inputs/);
  await rejects(infer({ model_name: 'tiny', inputs: [{ ...good, name: 'pixels' }], raw_input_contents: [px] }), status.INVALID_ARGUMENT, /unexpected input 'pixels'/);
  await rejects(infer({ model_name: 'tiny', inputs: [good], outputs: [{ name: 'logits' }], raw_input_contents: [px] }), status.INVALID_ARGUMENT, /unknown output 'logits'/);
  await rejects(infer({ model_name: 'tiny', inputs: [] }), status.INVALID_ARGUMENT, /no inputs/);
  await rejects(infer({ model_name: 'tiny', parameters: { timeout: { string_param: 'soon' } }, inputs: [good], raw_input_contents: [px] }), status.INVALID_ARGUMENT, /parameters.timeout/);
  await rejects(infer({ model_name: 'nope', inputs: [good], raw_input_contents: [px] }), status.NOT_FOUND, /unknown model 'nope'/);
  await rejects(infer({ model_name: 'tiny', model_version: '3', inputs: [good], raw_input_contents: [px] }), status.NOT_FOUND);
});

test('a message larger than the body limit is RESOURCE_EXHAUSTED; the server keeps serving', async () => {
  const big = Buffer.alloc(MAX_BODY + 1024);
  await rejects(rpc.call('ModelInfer')({ model_name: 'tiny', inputs: [{ name: 'input', datatype: 'FP32', shape: [22, 3, 32, 32] }], raw_input_contents: [big] }), status.RESOURCE_EXHAUSTED);
  assert.deepEqual(await rpc.call('ServerLive')({}), { live: true });
});

test('statistics and the model repository: index, unload, load', async () => {
  const stats = await rpc.call('ModelStatistics')({ name: 'mlp' });
  assert.equal(stats.model_stats.length, 1);
  const s = stats.model_stats[0];
  assert.deepEqual([s.name, s.version], ['mlp', '1']);
  assert.ok(Number(s.inference_stats.success.count) >= 2, JSON.stringify(s));
  assert.ok(Number(s.last_inference) > Date.now() - 600_000);
  assert.ok((await rpc.call('ModelStatistics')({})).model_stats.length >= 2);
  await rejects(rpc.call('ModelStatistics')({ name: 'nope' }), status.NOT_FOUND);

  const index = await rpc.call('RepositoryIndex')({});
  assert.deepEqual(index.models.map((m: any) => [m.name, m.version, m.state]), [['mlp', '1', 'READY'], ['tiny', '1', 'READY']]);
  assert.deepEqual(await rpc.call('RepositoryModelUnload')({ model_name: 'mlp' }), {});
  assert.deepEqual(await rpc.call('ModelReady')({ name: 'mlp' }), { ready: false });
  assert.deepEqual((await rpc.call('RepositoryIndex')({ ready: true })).models.map((m: any) => m.name), ['tiny']);
  await rejects(rpc.call('ModelInfer')({ model_name: 'mlp', inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 16] }], raw_input_contents: [bytesOf(seeded(16))] }), status.UNAVAILABLE, /not loaded/);
  assert.deepEqual(await rpc.call('RepositoryModelLoad')({ model_name: 'mlp' }), {});
  assert.deepEqual(await rpc.call('ModelReady')({ name: 'mlp' }), { ready: true });
  await rejects(rpc.call('RepositoryModelLoad')({ model_name: 'nope' }), status.NOT_FOUND);
});

// ---- admission, auth and lifecycle on servers of their own ----

const tinyInfer = { model_name: 'tiny', inputs: [{ name: 'input', datatype: 'FP32', shape: [1, 3, 32, 32] }], raw_input_contents: [bytesOf(seeded(3072))] };

async function withTiny<T>(opts: Parameters<typeof startTestServer>[0], fn: (t: TestServer, rpc: Rpc) => Promise<T>, key?: string): Promise<T> {
  const { dir, cleanup: rm } = await tmp();
  await writeFile(join(dir, 'tiny.onnx'), TINY);
  const s = await startTestServer({ ...opts, models: [{ name: 'tiny', path: join(dir, 'tiny.onnx') }], server: { grpcPort: 0, ...opts.server } });
  const c = connect(s.server.grpc!.address, key);
  try {
    return await fn(s, c);
  } finally {
    c.client.close();
    await s.close();
    await rm();
  }
}

test('with an API key every RPC but ServerLive and ServerReady needs authorization: Bearer', async () => {
  await withTiny({ server: { apiKey: 's3cret' } }, async (_s, anon) => {
    assert.deepEqual(await anon.call('ServerLive')({}), { live: true });
    assert.deepEqual(await anon.call('ServerReady')({}), { ready: true });
    await rejects(anon.call('ModelMetadata')({ name: 'tiny' }), status.UNAUTHENTICATED, /missing API key/);
    await rejects(anon.call('ModelInfer')(tinyInfer), status.UNAUTHENTICATED);
    await rejects(anon.call('RepositoryModelUnload')({ model_name: 'tiny' }), status.UNAUTHENTICATED);
    const wrong = new Metadata();
    wrong.set('authorization', 'Bearer wrong');
    await rejects(anon.call('ModelReady')({ name: 'tiny' }, { metadata: wrong }), status.UNAUTHENTICATED, /invalid API key/);
    const right = new Metadata();
    right.set('authorization', 'Bearer s3cret');
    assert.deepEqual(await anon.call('ModelReady')({ name: 'tiny' }, { metadata: right }), { ready: true });
    const ok = new Metadata();
    ok.set('authorization', 'Bearer s3cret');
    assert.equal((await anon.call('ModelInfer')(tinyInfer, { metadata: ok })).raw_output_contents.length, 1);
  });
});

test('a full queue is UNAVAILABLE with retry-after; the queued call still completes', async () => {
  await withTiny({ defaults: { maxQueue: 1 } }, async (s, c) => {
    const stats = () => s.registry.served('tiny')[0]!.queue.stats;
    const busy = await occupy(s.registry, 'tiny');
    const queued = c.call('ModelInfer')(tinyInfer);
    await until(() => stats().pending === 1, 'one queued request');
    const err = await rejects(c.call('ModelInfer')(tinyInfer), status.UNAVAILABLE, /queue is full/);
    assert.ok(Number(err.metadata.get('retry-after')[0]) >= 1);
    assert.equal(err.metadata.get('aivmm-code')[0], 'BACKEND_UNAVAILABLE');
    busy.release();
    assert.equal((await queued).raw_output_contents.length, 1);
    await busy.done;
  });
});

test('a cancelled call, and one past its deadline, is dropped from the queue before it runs', async () => {
  await withTiny({}, async (s, c) => {
    const stats = () => s.registry.served('tiny')[0]!.queue.stats;
    const busy = await occupy(s.registry, 'tiny');
    const gone = c.start('ModelInfer', tinyInfer);
    await until(() => stats().pending === 1, 'the request queued');
    const successBefore = stats().success;
    gone.cancel();
    await rejects(gone.done, status.CANCELLED);
    await until(() => stats().cancelled === 1 && stats().pending === 0, 'the queued request cancelled');

    await rejects(c.call('ModelInfer')(tinyInfer, { deadlineMs: 150 }), status.DEADLINE_EXCEEDED);
    await until(() => stats().pending === 0, 'the late request left the queue');
    // parameters.timeout (µs) is a deadline of the server's own
    await rejects(c.call('ModelInfer')({ ...tinyInfer, parameters: { timeout: { int64_param: 100_000 } } }), status.DEADLINE_EXCEEDED, /deadline/);
    await until(() => stats().pending === 0, 'the timed-out request left the queue');
    busy.release();
    await busy.done;
    assert.equal(stats().success, successBefore + 1, 'only the occupying job ran');
  });
});

test('shutdown drains gRPC: the running call answers, new calls are refused, close resolves', async () => {
  const { dir, cleanup: rm } = await tmp();
  await writeFile(join(dir, 'tiny.onnx'), TINY);
  const s = await startTestServer({ models: [{ name: 'tiny', path: join(dir, 'tiny.onnx') }], server: { grpcPort: 0 } });
  const c = connect(s.server.grpc!.address);
  try {
    const stats = () => s.registry.served('tiny')[0]!.queue.stats;
    const busy = await occupy(s.registry, 'tiny');
    const inflight = c.call('ModelInfer')(tinyInfer);
    await until(() => stats().pending === 1, 'the request queued');
    const closed = s.server.close(5000);
    await until(() => s.server.state.closing, 'closing');
    const late = connect(s.server.grpc!.address);
    await rejects(late.call('ServerLive')({}, { deadlineMs: 2000 }), status.UNAVAILABLE);
    late.client.close();
    busy.release();
    assert.equal((await inflight).raw_output_contents.length, 1, 'the queued call was answered');
    await busy.done;
    await closed;
  } finally {
    c.client.close();
    await s.close();
    await rm();
  }
});

test('aivmm serve with server.grpc_port in the config: the ready line names the gRPC address; inference through the lane', { timeout: 120_000 }, async () => {
  const { dir, cleanup: rm } = await tmp();
  const config = join(dir, 'aivmm.yaml');
  await writeFile(config, 'server:\n  port: 0\n  grpc_port: 0\n');
  const serve = spawnServe(BIN, ['tiny-convnet', '--config', config, '--json'], { ...process.env, AIVMM_CACHE_DIR: dir });
  try {
    const doc = JSON.parse(await serve.ready) as { data: { grpc?: string; port: number } };
    const validate = new Ajv({ allErrors: true, strict: false }).compile(JSON.parse(readFileSync(fileURLToPath(new URL('../../docs/schemas/serve-1.schema.json', import.meta.url)), 'utf8')) as object);
    assert.ok(validate(doc), JSON.stringify(validate.errors));
    assert.match(doc.data.grpc ?? '', /^127\.0\.0\.1:\d+$/);
    assert.notEqual(Number(doc.data.grpc?.split(':')[1]), doc.data.port);
    const c = connect(doc.data.grpc as string);
    const x = seeded(3072, 5);
    const res = await c.call('ModelInfer')({ model_name: 'tiny-convnet', inputs: [{ name: 'input', datatype: 'FP32', shape: [1, 3, 32, 32] }], raw_input_contents: [bytesOf(x)] });
    assert.deepEqual(f32(res.raw_output_contents[0]), (await referenceRun(TINY, { input: { type: 'float32', dims: [1, 3, 32, 32], data: x } }))['probabilities']);
    c.client.close();
    serve.child.kill('SIGTERM');
    assert.equal(await serve.exited, 0, serve.stderr());
  } finally {
    serve.child.kill('SIGKILL');
    await rm();
  }
  const bad = spawnCli(['serve', '--grpc-port', '70000']);
  assert.equal(bad.code, 2, bad.stderr);
  assert.match(bad.stderr, /invalid --grpc-port '70000'/);
});
