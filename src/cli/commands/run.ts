/** `aivmm run`: resolve the model (embedded, file, alias, Hub id) and its task settings, run, render. */
import { mkdir, stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { UsageError } from '../../core/errors.js';
import type { DevicesReport } from '../../core/devices/types.js';
import { findAlias } from '../../core/hub/catalog.js';
import { EMBEDDED_MODELS } from '../../core/models/embedded.js';
import { TASKS, type RunReport, type TaskName } from '../../core/tasks/types.js';
import { planTask, taskFor } from '../../core/tasks/plan.js';
import { SCHEMAS, okEnvelope, toJson } from '../../ui/json.js';
import type { CliContext } from '../context.js';
import { resolveModelArg } from '../model-arg.js';
import { EXIT_CODES } from '../exit-codes.js';
import { resolveOrtTarget } from '../ort-target.js';
import type { RunFlags } from '../program.js';
import { startSpinner } from '../spinner.js';
import { fraction, integer, numberIn, numberList, oneOf, positiveInt } from '../flags.js';
import { onInterrupt } from '../interrupt.js';

export async function runCommand(ctx: CliContext, modelArg: string | undefined, opts: RunFlags): Promise<void> {
  if (opts.server ?? ctx.io.env['AIVMM_SERVER']) return (await import('./run-remote.js')).runRemote(ctx, modelArg, opts, (opts.server ?? ctx.io.env['AIVMM_SERVER'])!);
  if (opts.input.length === 0 && !opts.interactive) throw new UsageError('no --input given', 'aivmm run <model> --input image.jpg (a file or a directory; repeatable), or --interactive for a chat');
  if (opts.interactive && (opts.input.length > 0 || ctx.flags.json)) throw new UsageError('--interactive reads the conversation from the terminal', 'leave out --input and --json');
  if (opts.task === 'speech-to-text') opts.task = 'automatic-speech-recognition';
  if (opts.task !== undefined && !TASKS.includes(opts.task as TaskName)) throw new UsageError(`unsupported --task '${opts.task}'`, `tasks: ${TASKS.join(', ')} (speech-to-text: automatic-speech-recognition)`);
  const topK = opts.topK === undefined ? undefined : positiveInt('--top-k', opts.topK);
  const maxTokens = positiveInt('--max-tokens', opts.maxTokens);
  const temperature = numberIn('--temperature', opts.temperature, 0, 10, 'give 0 (greedy) to 10');
  const topP = opts.topP === undefined ? undefined : fraction('--top-p', opts.topP);
  const seed = integer('--seed', opts.seed);
  const batch = positiveInt('--batch', opts.batch);
  const confidence = fraction('--conf', opts.conf);
  const iou = fraction('--iou', opts.iou);
  const size = opts.size === undefined ? undefined : positiveInt('--size', opts.size);
  const mean = numberList('--mean', opts.mean, 3);
  const std = numberList('--std', opts.std, 3);
  const env = ctx.io.env;
  const { cacheDir } = ctx.config.paths;
  const name = modelArg ?? 'mobilenetv2-seeded';
  // Task, preprocessing, labels and companion files: core/tasks/plan.ts decides (flags, else the catalog, else the embedded model).
  const entry = findAlias(name);
  const embedded = EMBEDDED_MODELS[name];
  const flagTask = opts.task as TaskName | undefined;
  const { task, multiFile } = taskFor({ ...(flagTask ? { task: flagTask } : {}), ...(entry ? { catalogEntry: entry } : {}), ...(embedded ? { embeddedTask: embedded.task } : {}), name });
  const model = await resolveModelArg(ctx, modelArg, cacheDir, { multi: multiFile });
  const plan = await planTask({
    model: model.path,
    ...(model.files ? { files: model.files } : {}),
    modelName: model.name,
    ...(flagTask ? { task: flagTask } : {}),
    ...(entry ? { catalogEntry: entry } : {}),
    ...(embedded ? { embedded: { task: embedded.task } } : {}),
    flags: { ...(size ? { size } : {}), ...(opts.labels ? { labels: opts.labels } : {}), ...(mean ? { mean } : {}), ...(std ? { std } : {}), ...(opts.textModel ? { textModel: opts.textModel } : {}), ...(opts.decoderModel ? { decoderModel: opts.decoderModel } : {}), ...(opts.tokenizer ? { tokenizer: opts.tokenizer } : {}) },
  });
  const visionModel = plan.model;
  if (entry?.warning) ctx.io.stderr.write(`warning: ${entry.alias}: ${entry.warning}\n`);
  let deviceFlag = opts.device;
  let backendFlag = opts.backend;
  let discovered: DevicesReport | undefined;
  if (opts.device.trim().toLowerCase() === 'auto') {
    // The pair measured fastest for this model here (probing the ones not measured yet), among onnxruntime's.
    const prefer = oneOf('--prefer', opts.prefer, ['latency', 'throughput'] as const);
    const [{ chooseAuto }, { parseRequire }, { sha256File }, { listDevices }, { processBenchRunner }] = await Promise.all([
      import('../auto-choice.js'),
      import('../../core/bench/auto.js'),
      import('../../core/bench/index.js'),
      import('../../core/devices/index.js'),
      import('../bench-runner.js'),
    ]);
    const devices = await listDevices({ host: ctx.host(), cacheDir });
    const choice = await chooseAuto(ctx, {
      model: { name: model.name, path: visionModel, embedded: model.embedded },
      devices,
      cacheDir,
      modelSha: await sha256File(visionModel),
      requirements: parseRequire(opts.require),
      prefer,
      backends: opts.backend ? [opts.backend] : ['ort-cpu', 'ort-webgpu', 'ort-cuda', 'ort-tensorrt'],
      runner: processBenchRunner(env, ctx.log),
      signal: new AbortController().signal,
    });
    deviceFlag = choice.device;
    backendFlag = choice.backend;
    discovered = devices;
  } else if (opts.require !== undefined || opts.prefer !== 'latency') throw new UsageError('--prefer and --require go with --device auto');
  const { device, backend, target } = await resolveOrtTarget(ctx, 'run', deviceFlag, backendFlag, cacheDir, discovered, ['onnxruntime', 'openvino']);
  let output: string | undefined;
  if (opts.output) {
    output = resolve(opts.output);
    const st = await stat(output).catch(() => undefined);
    const dirWanted = st?.isDirectory() || opts.input.length > 1 || (await Promise.all(opts.input.map((i) => stat(i).then((s) => s.isDirectory(), () => false)))).some(Boolean);
    if (dirWanted) await mkdir(output, { recursive: true });
    else if (!/\.png$/i.test(output)) throw new UsageError(`-o ${opts.output}: annotated images are PNG`, 'give a .png file (or a directory for several inputs)');
  }
  const generation = { maxTokens, sampling: { temperature, seed, ...(topK ? { topK } : {}), ...(topP !== undefined ? { topP } : {}) }, ...(opts.system ? { system: opts.system } : {}), chatTemplate: opts.chatTemplate !== false };
  if (opts.interactive) {
    if (task && task !== 'text-generation') throw new UsageError(`--interactive is a chat: ${name} is a ${task} model`);
    await interactiveChat(ctx, {
      plan: { ...plan, task: 'text-generation' },
      target,
      device: { id: device.id, name: device.name, backend },
      batch,
      options: { 'text-generation': generation },
    });
    return;
  }
  // Streamed tokens share stdout with nothing else: no spinner for text generation.
  const spinner = await startSpinner({ ...ctx, progress: ctx.progress && task !== 'text-generation' }, `running ${model.name}`);
  const interrupt = onInterrupt({ second: '\naivmm: stopping after the inference in hand (Ctrl-C again to quit at once)\n', write: (t) => void ctx.io.stderr.write(t) });
  let report: RunReport;
  try {
    const { runTask } = await import('../../core/tasks/index.js');
    report = await runTask({
      plan,
      inputs: opts.input,
      target,
      device: { id: device.id, name: device.name, backend },
      ...(output ? { output } : {}),
      batch,
      options: {
        'image-classification': { topK: topK ?? 5 },
        'object-detection': { confidence, iou },
        'zero-shot-image-classification': { hypothesis: opts.hypothesis },
        'sentence-embeddings': { truncate: Boolean(opts.truncate) },
        'text-generation': generation,
        'automatic-speech-recognition': { ...(opts.language ? { language: opts.language } : {}), translate: Boolean(opts.translate), maxTokens: Math.min(maxTokens, 440) },
      },
      // Tokens stream to stdout as they come (not with --json: one document only).
      ...(ctx.flags.json ? {} : { onText: (delta: string) => void ctx.io.stdout.write(delta) }),
      onProgress: (done, total) => spinner.text(`${model.name}: ${done}/${total}`),
      signal: interrupt.signal,
    });
  } finally {
    spinner.stop();
    interrupt.dispose();
  }
  if (ctx.flags.json) ctx.io.stdout.write(toJson(okEnvelope(SCHEMAS.run, report)));
  else {
    const { renderRunPlain } = await import('../../ui/plain/run.js');
    ctx.io.stdout.write(renderRunPlain(report));
  }
  if (report.interrupted) {
    ctx.io.stderr.write('aivmm: interrupted: the results above cover the images done before Ctrl-C\n');
    ctx.exitCode = EXIT_CODES.CANCELLED;
  }
}

/** A chat on the terminal (or piped lines): each line is a user turn, the reply streams back. Ends on EOF, /exit or Ctrl-C. */
async function interactiveChat(ctx: CliContext, options: Omit<import('../../core/tasks/index.js').RunOptions, 'inputs'>): Promise<void> {
  const { createInterface } = await import('node:readline');
  const { chatLoop } = await import('../../core/tasks/index.js');
  const tty = Boolean(process.stdin.isTTY);
  const rl = createInterface({ input: process.stdin, terminal: false });
  const lines = rl[Symbol.asyncIterator]();
  const interrupt = onInterrupt();
  if (tty) ctx.io.stderr.write(`chatting with ${options.plan.modelName} (${options.device.id} ${options.device.backend}); /exit or Ctrl-D to end\n`);
  try {
    await chatLoop(
      { ...options, signal: interrupt.signal },
      async () => {
        if (tty) ctx.io.stderr.write('> ');
        const next = await lines.next();
        if (next.done || next.value.trim() === '/exit') return undefined;
        return next.value;
      },
      (delta) => void ctx.io.stdout.write(delta),
      (r) => {
        ctx.io.stdout.write('\n');
        ctx.io.stderr.write(`(${r.tokens} tokens, ${r.tokensPerSec} tokens/s${r.finish === 'length' ? ', max tokens reached' : ''})\n`);
      },
    );
  } finally {
    interrupt.dispose();
    rl.close();
  }
}
