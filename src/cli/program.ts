/**
 * The commander program: global flags, subcommands, help with examples. Command modules are imported
 * only when their command runs, so `--help` loads no native addon and no UI framework.
 */
import { Command, Option } from 'commander';
import { makeContext, globalFlags, type CliContext, type CliIO } from './context.js';
import { aivmmVersion } from './version.js';
import { loadConfig, type AivmmConfig } from '../core/config/load.js';
import { DEFAULT_SEED } from './flags.js';

const EXAMPLES = `
Examples:
  $ aivmm devices                       list CPU, GPUs and NPUs with the backends that reach each
  $ aivmm devices --probe               verify each (device, backend) pair by running a tiny model
  $ aivmm devices --json | jq '.data.devices[].id'
  $ aivmm bench                         benchmark the embedded default model (MobileNetV2 architecture)
  $ aivmm bench mobilenetv2 --device GPU.1
  $ aivmm pull yolov8n
  $ aivmm run yolov8n --input street.jpg -o boxes.png
  $ aivmm quantize model.onnx --mode static

Exit codes: 0 ok, 1 internal error, 2 usage, 3 config, 4 network, 5 not found, 6 auth,
  7 backend unavailable, 8 inference, 9 integrity, 10 regression, 11 not implemented, 130 cancelled.
Docs: README.md (commands, environment variables, JSON schemas).`;

export interface ProgramResult {
  program: Command;
  /** The context of the command that ran (set when an action starts). */
  context(): CliContext;
}

export function buildProgram(io: CliIO, argv: readonly string[] = [], config: AivmmConfig = loadConfig(io.env)): ProgramResult {
  // Until an action runs, errors (e.g. a bad flag) are reported with the flags as they appear in argv.
  const early = { json: argv.includes('--json'), verbose: argv.includes('--verbose') || argv.includes('-v'), color: !argv.includes('--no-color') };
  let ctx: CliContext = makeContext(io, globalFlags(early, config.output), config);
  const program = new Command('aivmm');
  program
    .description('Discover, benchmark and run ONNX models on every AI accelerator in this machine.')
    .version(aivmmVersion(), '-V, --version', 'print the aivmm version')
    .option('--json', 'print one versioned JSON document on stdout (errors too)')
    .option('-v, --verbose', 'log details and timings to stderr')
    .option('--no-color', 'no colours (also: NO_COLOR=1)')
    .showHelpAfterError('(run `aivmm --help` for usage)')
    .exitOverride()
    .configureOutput({ writeOut: (s) => io.stdout.write(s), writeErr: (s) => io.stderr.write(s) })
    .addHelpText('after', EXAMPLES)
    .hook('preAction', (_root, action) => {
      ctx = makeContext(io, globalFlags(action.optsWithGlobals(), config.output), config);
    });

  program
    .command('devices')
    .description('list devices (CPU, GPU.N, NPU) and which backends reach each')
    .option('--probe', 'verify each (device, backend) pair by running a tiny model; results are cached per host')
    .option('-d, --device <id>', 'only this device: CPU, GPU (= GPU.0), GPU.1, NPU, all', 'all')
    .addOption(new Option('--timeout <time>', 'time limit for each probe, e.g. 60s, 2m (a bare number: seconds)').default('120s'))
    .option('--no-cache', 'neither read nor write the per-host probe cache')
    .addHelpText(
      'after',
      `
Examples:
  $ aivmm devices
  $ aivmm devices --probe --device GPU.0
  $ aivmm devices --json`,
    )
    .action(async (opts: DevicesFlags) => {
      const { devicesCommand } = await import('./commands/devices.js');
      await devicesCommand(ctx, opts);
    });

  const collect = (v: string, prev: string[]): string[] => [...prev, v];
  program
    .command('bench [model]')
    .description('benchmark a model on one or all devices, side by side; gate CI on regressions')
    .option('-d, --device <id>', 'CPU, GPU (= GPU.0), GPU.1, NPU, all (software GPUs only when named), or auto (the best pair for this model: see --prefer)', 'all')
    .option('-b, --backend <ids>', 'only these backends: ort-cpu, ort-webgpu, ort-cuda, ort-tensorrt, openvino (comma-separated or repeated)', collect, [])
    .option('--prefer <goal>', 'with --device auto: latency (batch-1 p50) or throughput (items/s)', 'latency')
    .option('--require <list>', 'with --device auto: e.g. "memory>=4GB,fp16", kind=gpu, vendor=nvidia, int8, backend=ort-webgpu')
    .option('--batch <sizes>', 'batch sizes to sweep, e.g. 1,8,32 (the first dimension of every input)')
    .option('--shape <name=dims>', 'dims of an input with dynamic dimensions, e.g. input_ids=1x128 (repeatable)', collect, [])
    .option('--input-data <file>', 'real inputs: name=file.npy, file.npy (one input) or file.json (repeatable)', collect, [])
    .option('--seed <n>', 'seed of the generated inputs', String(DEFAULT_SEED))
    .option('-c, --concurrency <n>', 'requests in flight at once (throughput mode when > 1)', '1')
    .option('--duration <time>', 'measure this long per row, e.g. 10s, 500ms (default 5s; at least 20 runs)')
    .option('-n, --iterations <n>', 'measure exactly this many runs per row')
    .option('--warmup <n|time>', 'warm-up runs (e.g. 20) or time (e.g. 2s) before measuring', '1s')
    .option('--repeat <n>', 'measure each pair in N fresh processes, one after another, and pool the samples; the --baseline gate compares their per-process medians (default 3 with --save or --baseline, else 1)')
    .option('-t, --threads <n>', 'intra-op threads (CPU work); default: the runtime decides')
    .addOption(new Option('--graph-opt <level>', 'graph optimisation level').choices(['disabled', 'basic', 'extended', 'all']))
    .option('--ep-option <key=value>', 'passed to the execution provider as is (repeatable), e.g. enable_cuda_graph=1 for ort-cuda; keys with a dot: session config entries', collect, [])
    .addOption(new Option('-f, --format <format>', 'result format on stdout').choices(['table', 'md', 'csv', 'json']).default('table'))
    .option('--save <file>', 'also write the full result (JSON, raw samples included) to this file')
    .option('--baseline <file>', 'compare with a result saved by --save; exit 10 when a row regressed, 13 when too noisy to decide, 14 when no row matched')
    .option('--against <old.onnx>', 'gate against the old model directly: both alternate in blocks in one process (the design that survives machine drift); same exit codes as --baseline')
    .option('--max-regression <pct>', 'slowdown tolerated by the --baseline / --against gate', '5%')
    .option('--allow-missing', 'with --baseline: no row matching the baseline is a warning, not exit 14')
    .option('--allow-host-change', 'with --baseline: accept a baseline measured on another machine type (loudly warned)')
    .option('--block-size <n>', 'with --against: requests per block (default: about 50 ms of the slower model)')
    .option('--max-duration <time>', 'with --against: keep alternating, one look per --duration, until the gate is clear or this much time is spent (default 10× --duration); then too noisy')
    .option('--reference', 'interleave the reference workload and record its trace (a diagnostic: the gate does not use it, see docs/bench.md)')
    .option('--no-reference', 'never interleave it (the default)')
    .option('--server <url>', 'load-test a running KServe v2 server (aivmm, Triton, OVMS) instead: --concurrency 1,4,16 or --rate 200/s')
    .option('--model <name>', 'with --server: the served model (default: the only one ready)')
    .option('--rate <r/s>', 'with --server: Poisson arrivals at this rate, open loop (comma-separated for a sweep)')
    .option('--window <time>', 'with --server: measurement window (default 2s)')
    .option('--stability <pct>', 'with --server: the last 3 windows within ±this of their mean (default 10%)')
    .option('--max-windows <n>', 'with --server: give up on stability after N windows (default 10)')
    .option('--json-data', 'with --server: send JSON tensors instead of the binary tensor extension')
    .option('--no-retry-after', 'with --server --concurrency: resend at once after a 503/429 instead of waiting its Retry-After (hammering)')
    .option('--api-key <key>', 'with --server: bearer token (also: AIVMM_API_KEY)')
    .addHelpText(
      'after',
      `
Examples:
  $ aivmm bench                                   the embedded MobileNetV2 on every device
  $ aivmm bench model.onnx --device GPU.0 --batch 1,8,32
  $ aivmm bench model.onnx --shape input_ids=1x128 --backend ort-cpu --threads 4
  $ aivmm bench model.onnx --save main.json       on the main branch
  $ aivmm bench model.onnx --baseline main.json --max-regression 5%   in CI: exit 10 on a regression
  $ aivmm bench pr/model.onnx --against main/model.onnx      paired blocks in one process: the stronger gate
  $ aivmm bench --format md >> "$GITHUB_STEP_SUMMARY"
  $ aivmm bench --server http://127.0.0.1:8080 --model tiny --concurrency 1,4,16,64
  $ aivmm bench --server http://127.0.0.1:8000 --model resnet --rate 200/s --json

Ctrl-C stops measuring; what was measured is still printed and saved (exit 130).`,
    )
    .action(async (model: string | undefined, opts: BenchFlags) => {
      const { benchCommand } = await import('./commands/bench.js');
      await benchCommand(ctx, model, opts);
    });

  program
    .command('pull <model>')
    .description('download a model from the Hugging Face Hub into the shared Hugging Face cache (verified, resumable)')
    .option('-r, --revision <rev>', 'branch, tag or commit', 'main')
    .option('-i, --include <glob>', 'only files matching this glob, e.g. "onnx/*.onnx" (repeatable)', collect, [])
    .option('--dtype <dtype>', 'which ONNX variant: fp32, fp16, q8, int8, uint8, q4, q4f16, bnb4', 'fp32')
    .option('--force', 'download again even when the cache has the file')
    .option('--connections <n>', 'parallel range requests per large file (1: one stream)', '8')
    .addHelpText(
      'after',
      `
Examples:
  $ aivmm pull onnx-community/whisper-tiny
  $ aivmm pull Xenova/resnet-50 --dtype q8
  $ aivmm pull onnxmodelzoo/legacy_models/validated/vision/classification/mobilenet/model/mobilenetv2-12.onnx
  $ HF_HUB_OFFLINE=1 aivmm pull onnx-community/whisper-tiny     (from the cache only)

Files go where huggingface_hub puts them ($HF_HUB_CACHE, default ~/.cache/huggingface/hub), so Python and
aivmm share them. Environment: HF_ENDPOINT, HF_HOME, HF_HUB_CACHE, HF_TOKEN (or $HF_HOME/token),
HF_HUB_OFFLINE, HF_HUB_DOWNLOAD_TIMEOUT, HF_HUB_ETAG_TIMEOUT.`,
    )
    .action(async (model: string, opts: PullFlags) => {
      const { pullCommand } = await import('./commands/pull.js');
      await pullCommand(ctx, model, opts);
    });

  const models = program
    .command('models')
    .description('the model catalog and what the shared Hugging Face cache holds')
    .option('--cached', 'every model in the cache (any tool\'s downloads), with sizes')
    .addHelpText(
      'after',
      `
Examples:
  $ aivmm models                 catalog aliases, licences, and which are cached
  $ aivmm models --cached        everything in $HF_HUB_CACHE, with sizes
  $ aivmm models rm whisper-tiny`,
    )
    .action(async (opts: { cached?: boolean }) => {
      const { modelsCommand } = await import('./commands/models.js');
      await modelsCommand(ctx, opts);
    });
  models
    .command('rm <model>')
    .description('remove a model (alias or org/name) from the shared Hugging Face cache')
    .action(async (model: string) => {
      const { modelsRmCommand } = await import('./commands/models.js');
      await modelsRmCommand(ctx, model);
    });

  program
    .command('quantize [model]')
    .description('quantize an ONNX model (FP32 → INT8 static/dynamic, FP16) and report fidelity, size and latency')
    .option('-o, --output <file>', 'where to write the quantized model (default: ./<name>.int8.onnx, .int8-dynamic.onnx or .fp16.onnx)')
    .option('-m, --mode <mode>', 'static (QDQ, calibrated), dynamic (int8 MatMul/Gemm weights), fp16, or auto (static for conv nets, dynamic for transformers)', 'auto')
    .option('--calibration <source>', 'a directory of images, .npy/.json tensors (a fifth held back for the report), or random:N (default random:32)')
    .option('--method <method>', 'activation ranges: minmax, percentile or entropy', 'minmax')
    .option('--percentile <p>', 'with --method percentile: the percentile of |x| kept (default 99.999)')
    .option('--per-channel', 'one weight scale per output channel (default)')
    .option('--no-per-channel', 'one weight scale per tensor')
    .option('--exclude <ops|nodes>', 'op types or node names to keep in float, comma-separated (repeatable)', collect, [])
    .option('--no-keep-io-types', 'fp16: make the model\'s inputs and outputs float16 too (default: keep float32)')
    .option('--quantize-outputs', 'static: quantize graph outputs too, as onnxruntime\'s quantizer does (default: keep them float)')
    .option('--no-bias-correction', 'static: keep the rounded biases (default: correct each channel for its weights\' rounding error)')
    .option('--external-data', 'write weights to <output>.data (automatic above 1.8 GB or when the input has external data)')
    .option('-d, --device <device>', 'where fidelity and latency are measured: CPU, GPU.0, …', 'CPU')
    .option('-b, --backend <backend>', 'runtime for --device: ort-cpu, ort-webgpu, ort-cuda, ort-tensorrt')
    .option('--latency <time>', 'time for the side-by-side latency estimate', '3s')
    .option('--no-latency', 'skip the latency estimate')
    .option('-t, --threads <n>', 'intra-op threads for calibration and measurement')
    .option('--seed <n>', 'seed for random calibration and evaluation inputs', String(DEFAULT_SEED))
    .option('--shape <name=dims>', 'dims of an input with dynamic dimensions for random samples, e.g. input_ids=1x64 (repeatable; default: batch 1, sequence 16)', collect, [])
    .addHelpText(
      'after',
      `
Examples:
  $ aivmm quantize model.onnx                                   static INT8 for a conv net, dynamic for a transformer
  $ aivmm quantize model.onnx --calibration ./images -o model.int8.onnx
  $ aivmm quantize model.onnx --mode static --method percentile --exclude Gemm
  $ aivmm quantize model.onnx --mode fp16 --device GPU.0        fidelity and latency measured on the GPU
  $ aivmm quantize minilm --mode dynamic --json

The report compares the result with the float model on held-back inputs (cosine, max |error|, top-1
agreement), names the layers that lost most, and times both side by side. The output is written
into a staging directory beside the target and evaluated there; only then does it replace the target, so a
failure or Ctrl-C (exit 130) leaves an existing file as it was.`,
    )
    .action(async (model: string | undefined, opts: QuantizeFlags) => {
      const { quantizeCommand } = await import('./commands/quantize.js');
      await quantizeCommand(ctx, model, opts);
    });

  const setup = program.command('setup').description('install optional accelerator runtimes');
  setup
    .command('cuda')
    .description("install onnxruntime-node's CUDA 12 / TensorRT provider libraries (its own installer; --from a local copy when offline)")
    .option('--from <dir>', 'copy the libraries from this directory (the unzipped Microsoft.ML.OnnxRuntime.Gpu.Linux NuGet package) instead of downloading')
    .option('--force', 'install again even when the libraries are present')
    .addHelpText(
      'after',
      `
The libraries also need the NVIDIA driver, CUDA 12 and cuDNN 9 (and TensorRT 10 for ort-tensorrt) on the
library path; \`aivmm devices\` says which are missing. Exit codes: 4 when the download fails (the message
says what to fetch and where to put it), 5 when --from lacks the files.`,
    )
    .action(async (opts: { from?: string; force?: boolean }) => {
      const { setupCudaCommand } = await import('./commands/setup.js');
      await setupCudaCommand(ctx, opts);
    });

  program
    .command('run [model]')
    .description('run a model with its task pre/post-processing: classification, detection, CLIP zero-shot, embeddings, text generation, speech recognition')
    .option('-i, --input <path|text>', 'an image, a WAV file or a directory of them; for text tasks a text or a .txt file (repeatable)', collect, [])
    .option('--task <task>', 'image-classification, object-detection, zero-shot-image-classification, sentence-embeddings, text-generation or automatic-speech-recognition (default: from the catalog or the model)')
    .option('-d, --device <id>', 'CPU, GPU (= GPU.0), GPU.1, …, or auto (the pair measured fastest for this model: see --prefer)', 'CPU')
    .option('-b, --backend <id>', 'ort-cpu, ort-webgpu, ort-cuda, ort-tensorrt')
    .option('--prefer <goal>', 'with --device auto: latency or throughput', 'latency')
    .option('--require <list>', 'with --device auto: e.g. "memory>=4GB,fp16", kind=gpu, vendor=nvidia')
    .option('-o, --output <path>', 'detection: the annotated PNG (a directory for several inputs)')
    .option('-k, --top-k <n>', 'classification: classes shown per image (default 5); text-generation: sample among the k likeliest tokens')
    .option('--labels <file|set|list>', 'class names: a text file (one a line), imagenet-1k or coco-80 (default: the catalog\'s); zero-shot: the candidates, "a,b,c" or a file')
    .option('--size <px>', 'input side for models with dynamic height/width')
    .option('--mean <r,g,b>', 'classification: per-channel mean (default ImageNet 0.485,0.456,0.406)')
    .option('--std <r,g,b>', 'classification: per-channel std (default ImageNet 0.229,0.224,0.225)')
    .option('--conf <p>', 'detection: minimum score', '0.25')
    .option('--iou <p>', 'detection: NMS overlap threshold', '0.45')
    .option('--batch <n>', 'images (or texts) per inference for models with a dynamic batch', '8')
    .option('--tokenizer <path>', 'text tasks: tokenizer.json or its directory (default: beside the model)')
    .option('--truncate', 'text tasks: cut texts longer than the model\'s context instead of refusing them')
    .option('--max-tokens <n>', 'text-generation: at most this many new tokens', '128')
    .option('--temperature <t>', 'text-generation: 0 = greedy (default); above 0 samples', '0')
    .option('--top-p <p>', 'text-generation: nucleus sampling, keep the likeliest tokens up to this probability')
    .option('--seed <n>', 'text-generation: seed for sampling', String(DEFAULT_SEED))
    .option('--system <text>', 'text-generation: a system message for the chat template')
    .option('--text-model <path>', 'zero-shot-image-classification: the text tower (default: text_model*.onnx beside the vision tower)')
    .option('--hypothesis <template>', 'zero-shot-image-classification: how a label becomes a sentence ({} = the label)', 'a photo of {}.')
    .option('--decoder-model <path>', 'automatic-speech-recognition: the decoder (default: decoder_model_merged*.onnx beside the encoder)')
    .option('--language <code>', 'automatic-speech-recognition: en, de, … (default: detected)')
    .option('--translate', 'automatic-speech-recognition: translate into English instead of transcribing')
    .option('--interactive', 'text-generation: a chat; each line you type is a turn (history kept), /exit or Ctrl-D ends')
    .option('--no-chat-template', 'text-generation: send the prompt as it is, without the tokenizer\'s chat template')
    .option('--server <url>', 'send the request to a running `aivmm serve` (default: AIVMM_SERVER) instead of loading the model here')
    .addHelpText(
      'after',
      `
Examples:
  $ aivmm run --input cat.jpg                                 the embedded MobileNetV2 (seeded weights: demo only)
  $ aivmm run mobilenetv2 --input photos/ --top-k 3           the catalog's model, ImageNet labels
  $ aivmm run yolov8n --input street.jpg -o boxes.png         (yolov8n is AGPL-3.0: see \`aivmm models\`)
  $ aivmm run model.onnx --task object-detection --labels coco-80 --input img.png --json
  $ aivmm run minilm --input "a cat sat" --input "a dog ran"   sentence embeddings and their cosine similarity
  $ aivmm run clip-vit-b32 --input cat.jpg --labels "a cat,a dog,a car"
  $ aivmm run whisper-tiny --input speech.wav                 WAV in, text out (language detected)
  $ aivmm run tinyllama --input "Why is the sky blue?" --max-tokens 200 --temperature 0.7 --top-p 0.9`,
    )
    .action(async (model: string | undefined, opts: RunFlags) => {
      const { runCommand } = await import('./commands/run.js');
      await runCommand(ctx, model, opts);
    });

  program
    .command('serve [models...]')
    .description('serve models over HTTP: KServe v2 (JSON + binary tensors), model repository with hot reload, placement, events')
    .option('--model-repository <dir>', 'serve DIR/<name>/<version>/model.onnx (hot reload by polling)')
    .option('--config <file>', 'aivmm.yaml: server settings and per-model device, instances, max_queue, timeout, keep_alive, version_policy')
    .option('--host <addr>', 'address to bind (beyond loopback an API key is required)', undefined)
    .option('-p, --port <n>', 'port (0: any free port)')
    .option('--grpc-port <n>', 'also serve KServe v2 gRPC on this port (0: any free port; default: off)')
    .option('-d, --device <ids>', 'device for the models: CPU, GPU.0, NPU, …, or auto (the pair bench measured fastest for each model; else the CPU)')
    .option('--api-key <key>', 'bearer token required for everything but health (also: AIVMM_API_KEY)')
    .option('--instances <n>', 'instances (sessions) per model on its device', undefined)
    .option('--max-queue <n>', 'requests waiting per model before 503 + Retry-After (default 64)')
    .option('--lane <host>', "where each device's worker lane runs: process (default; a native crash takes down only the lane) or thread (a worker thread of the server: tensors cross without a copy, less overhead per request; a native crash takes down the server)")
    .option('--request-timeout <time>', 'default per-request deadline, e.g. 30s (default: none)')
    .option('--keep-alive <time>', 'unload a model after this long without requests; the next request loads it again (default: never)')
    .option('--poll <time>', 'polling interval for hot reload of the repository and model files (default 2s; 0: off)')
    .option('--drain-timeout <time>', 'on SIGTERM/SIGINT, how long queued work may take before it is failed', '10s')
    .option('--max-body <size>', 'largest request body, e.g. 64MB (413 past it)')
    .option('--no-metrics', 'no GET /metrics and no metric recording')
    .option('--metrics-public', 'GET /metrics without the API key (for scrapers that cannot send one; docs/metrics.md)')
    .option('--telemetry-interval <time>', 'device telemetry sampling period for /metrics (default 5s; 0: off)')
    .option('--log-level <level>', 'JSON log lines on stderr: fatal, error, warn, info (lifecycle, default), debug (one line per request), trace, silent')
    .addHelpText(
      'after',
      `
Examples:
  $ aivmm serve                                        the embedded model on 127.0.0.1:8080
  $ aivmm serve model.onnx yolov8n --port 9000
  $ aivmm serve --model-repository ./models --json     one JSON line with the address once ready
  $ curl localhost:8080/v2/health/ready
  $ curl localhost:8080/v2/models/mobilenetv2-seeded

docs/serve.md: endpoints, binary tensors, config file, back-pressure (503 + Retry-After), shutdown.`,
    )
    .action(async (models: string[], opts: import('./commands/serve.js').ServeFlags) => {
      const { serveCommand } = await import('./commands/serve.js');
      await serveCommand(ctx, models, opts);
    });

  program
    .command('ps')
    .description('what a running `aivmm serve` holds: models, state, devices, queues, lanes and memory')
    .option('--server <url>', 'the server (default: AIVMM_SERVER or http://127.0.0.1:8080)')
    .option('--api-key <key>', 'bearer token (also: AIVMM_API_KEY)')
    .action(async (opts: import('./commands/ps.js').PsFlags) => {
      const { psCommand } = await import('./commands/ps.js');
      await psCommand(ctx, opts);
    });

  return { program, context: () => ctx };
}

export interface RunFlags {
  input: string[];
  task?: string;
  device: string;
  backend?: string;
  output?: string;
  topK?: string;
  labels?: string;
  size?: string;
  mean?: string;
  std?: string;
  conf: string;
  iou: string;
  batch: string;
  tokenizer?: string;
  truncate?: boolean;
  maxTokens: string;
  temperature: string;
  topP?: string;
  seed: string;
  system?: string;
  chatTemplate?: boolean;
  interactive?: boolean;
  textModel?: string;
  hypothesis: string;
  decoderModel?: string;
  language?: string;
  translate?: boolean;
  prefer: string;
  require?: string;
  server?: string;
}

export interface QuantizeFlags {
  output?: string;
  mode: string;
  calibration?: string;
  method: string;
  percentile?: string;
  perChannel?: boolean;
  exclude: string[];
  keepIoTypes?: boolean;
  quantizeOutputs?: boolean;
  biasCorrection?: boolean;
  externalData?: boolean;
  device: string;
  backend?: string;
  latency?: string | false;
  threads?: string;
  seed: string;
  shape: string[];
}

export interface DevicesFlags {
  probe?: boolean;
  device: string;
  timeout: string;
  cache: boolean;
}

export interface BenchFlags {
  device: string;
  backend: string[];
  batch?: string;
  shape: string[];
  inputData: string[];
  seed: string;
  concurrency: string;
  duration?: string;
  iterations?: string;
  warmup: string;
  threads?: string;
  graphOpt?: 'disabled' | 'basic' | 'extended' | 'all';
  epOption: string[];
  format: 'table' | 'md' | 'csv' | 'json';
  save?: string;
  baseline?: string;
  maxRegression: string;
  /** undefined: 3 when the result is compared (--save, --baseline), else 1. */
  repeat?: string;
  /** undefined: off (issue #21: one measurement mode for --json, --save and --baseline). */
  reference?: boolean;
  /** --no-retry-after: false. */
  retryAfter?: boolean;
  against?: string;
  allowMissing?: boolean;
  allowHostChange?: boolean;
  blockSize?: string;
  maxDuration?: string;
  prefer: string;
  require?: string;
  /** --server mode (src/cli/commands/bench-server.ts). */
  server?: string;
  model?: string;
  rate?: string;
  window?: string;
  stability?: string;
  maxWindows?: string;
  jsonData?: boolean;
  apiKey?: string;
}

export interface PullFlags {
  revision: string;
  include: string[];
  dtype: string;
  force?: boolean;
  connections: string;
}
